mock_provider "aws" {
  mock_data "aws_caller_identity" {
    defaults = { account_id = "000000000000" }
  }
  mock_data "aws_partition" {
    defaults = { partition = "aws" }
  }
}

variables {
  env             = "prod"
  source_region   = "eu-west-1"
  target_region   = "eu-central-1"
  bus_name        = "eda-prod"
  kms_key_arn     = "arn:aws:kms:eu-west-1:000000000000:key/x"
  alarm_topic_arn = "arn:aws:sns:eu-west-1:000000000000:eda-prod-alarms"
  events          = [{ source = "catalog", detail_type = "PriceChanged" }]
}

run "eu_to_eu_is_allowed" {
  command = plan
  assert {
    condition     = output.target_bus_arn == "arn:aws:events:eu-central-1:000000000000:event-bus/eda-prod"
    error_message = "target bus ARN"
  }
}

run "eu_to_us_is_refused" {
  command = plan
  variables {
    target_region = "us-east-1"
  }
  expect_failures = [var.target_region]
}

run "forwards_only_events_produced_here" {
  command = plan
  variables {
    source_region = "us-east-1"
    target_region = "ap-southeast-1"
  }
  assert {
    # Copies arriving from another region are not forwarded again.
    condition     = jsondecode(aws_cloudwatch_event_rule.forward["catalog"].event_pattern).detail.metadata.region == ["us-east-1"]
    error_message = "the forwarding rule must match only events produced in the source region"
  }
}
