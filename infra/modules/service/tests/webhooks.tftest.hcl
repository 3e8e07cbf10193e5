# terraform test (tests/infra runs it in make test, where terraform is installed): plan the service module
# against the real webhooks manifest with a mocked AWS provider.

mock_provider "aws" {}

variables {
  manifest_path = "../../../services/webhooks/service.yaml"
  dist_dir      = "tests/fixtures"
  platform = {
    env                    = "dev"
    region                 = "eu-west-1"
    data_residency         = "eu"
    account_id             = "000000000000"
    partition              = "aws"
    bus_name               = "eda-dev"
    bus_arn                = "arn:aws:events:eu-west-1:000000000000:event-bus/eda-dev"
    kms_key_arn            = "arn:aws:kms:eu-west-1:000000000000:key/11111111-2222-3333-4444-555555555555"
    idempotency_table_name = "dev-idempotency"
    idempotency_table_arn  = "arn:aws:dynamodb:eu-west-1:000000000000:table/dev-idempotency"
    http_api_id            = "abc123"
    http_api_execution_arn = "arn:aws:execute-api:eu-west-1:000000000000:abc123"
    http_api_authorizer_id = "jwt123"
    alarm_topic_arn        = "arn:aws:sns:eu-west-1:000000000000:eda-dev-alarms"
    access_log_bucket      = "eda-dev-access-logs-000000000000-eu-west-1"
  }
}

run "functions_follow_the_manifest" {
  command = plan

  assert {
    condition     = aws_lambda_function.this["receive"].function_name == "dev-webhooks-receive"
    error_message = "function name differs from devtools.manifest.function_name"
  }
  assert {
    condition     = aws_lambda_function.this["record_delivery"].memory_size == 256 && aws_lambda_function.this["record_delivery"].timeout == 30
    error_message = "memory/timeout not taken from the manifest"
  }
  assert {
    condition     = aws_sqs_queue.this["record_delivery"].visibility_timeout_seconds == 6 * 30 + 1
    error_message = "visibility timeout must be 6 x timeout + batching window"
  }
  assert {
    condition     = !contains(keys(aws_sqs_queue.this), "receive")
    error_message = "HTTP functions have no queue"
  }
  assert {
    condition     = aws_lambda_event_source_mapping.queue["record_delivery"].function_response_types == toset(["ReportBatchItemFailures"])
    error_message = "SQS mappings report partial batch failures"
  }
  assert {
    condition     = length(aws_apigatewayv2_route.public) == 2 && length(aws_apigatewayv2_route.this) == 0
    error_message = "the webhooks' two routes are declared public: no authorizer"
  }
  assert {
    condition     = alltrue([for r in aws_apigatewayv2_route.public : r.authorization_type == "NONE"])
    error_message = "public routes have no authorization"
  }
  assert {
    condition     = aws_dynamodb_table.this["deliveries"].point_in_time_recovery[0].enabled
    error_message = "tables need point-in-time recovery"
  }
}

run "routes_get_the_authorizer_their_manifest_declares" {
  command = plan

  variables {
    manifest_path = "tests/fixtures/access.yaml"
  }

  assert {
    condition     = keys(aws_apigatewayv2_route.this) == ["GET /things/{id}", "POST /things", "PUT /rates/{base}"] && keys(aws_apigatewayv2_route.public) == ["POST /hooks"]
    error_message = "customer and staff routes use the JWT authorizer; only the public one has none"
  }
  assert {
    condition     = alltrue([for r in aws_apigatewayv2_route.this : r.authorization_type == "JWT" && r.authorizer_id == "jwt123"])
    error_message = "authorized routes must use the region's JWT authorizer"
  }
  assert {
    condition     = aws_apigatewayv2_route.this["PUT /rates/{base}"].authorization_scopes == toset(["eda/staff"]) && aws_apigatewayv2_route.this["POST /things"].authorization_scopes == null
    error_message = "scopes are required where the manifest declares them, and only there"
  }
  assert {
    condition     = output.http_route_access == { "GET /things/{id}" = "customer", "POST /things" = "customer", "PUT /rates/{base}" = "staff", "POST /hooks" = "public" }
    error_message = "http_route_access names every route with its access"
  }
}

run "rejects_too_little_memory" {
  command = plan

  variables {
    manifest_path = "tests/fixtures/bad-memory.yaml"
  }

  expect_failures = [var.manifest_path]
}

run "rejects_large_batches_without_a_window" {
  command = plan

  variables {
    manifest_path = "tests/fixtures/batch-without-window.yaml"
  }

  expect_failures = [var.manifest_path]
}
