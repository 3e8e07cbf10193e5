# Cross-region forwarding: a rule on this region's bus whose target is the same-named bus
# in another region. Only events produced in this region are forwarded (metadata.region),
# so forwarded copies are never forwarded again.

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

locals {
  target_bus_arn = "arn:${data.aws_partition.current.partition}:events:${var.target_region}:${data.aws_caller_identity.current.account_id}:event-bus/${var.bus_name}"
  by_source      = { for s in distinct([for e in var.events : e.source]) : s => sort([for e in var.events : e.detail_type if e.source == s]) }
  name           = "${var.bus_name}-to-${var.target_region}"
}

resource "aws_cloudwatch_event_rule" "forward" {
  for_each       = local.by_source
  name           = "${local.name}-${replace(each.key, "_", "-")}"
  description    = "Forward personal-data-free ${each.key} events to ${var.target_region}"
  event_bus_name = var.bus_name
  event_pattern = jsonencode({
    source        = [each.key]
    "detail-type" = each.value
    detail        = { metadata = { region = [var.source_region] } }
  })
  tags = var.tags
}

resource "aws_sqs_queue" "dlq" {
  name                              = "${local.name}-dlq"
  message_retention_seconds         = 1209600
  kms_master_key_id                 = var.kms_key_arn
  kms_data_key_reuse_period_seconds = 300
  tags                              = var.tags
}

resource "aws_sqs_queue_policy" "dlq" {
  queue_url = aws_sqs_queue.dlq.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "AllowEventBridgeDeadLetters"
      Effect    = "Allow"
      Principal = { Service = "events.amazonaws.com" }
      Action    = ["sqs:SendMessage"]
      Resource  = aws_sqs_queue.dlq.arn
      Condition = { StringEquals = { "aws:SourceAccount" = data.aws_caller_identity.current.account_id } }
    }]
  })
}

resource "aws_iam_role" "forward" {
  name = local.name
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "events.amazonaws.com" }
      Action    = "sts:AssumeRole"
      Condition = { StringEquals = { "aws:SourceAccount" = data.aws_caller_identity.current.account_id } }
    }]
  })
  tags = var.tags
}

resource "aws_iam_role_policy" "forward" {
  name = "put-events-target-bus"
  role = aws_iam_role.forward.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid      = "PutForwardedEvents"
      Effect   = "Allow"
      Action   = ["events:PutEvents"]
      Resource = [local.target_bus_arn]
      Condition = {
        StringEquals = { "events:source" = keys(local.by_source), "events:detail-type" = distinct([for e in var.events : e.detail_type]) }
      }
    }]
  })
}

resource "aws_cloudwatch_event_target" "forward" {
  for_each       = local.by_source
  rule           = aws_cloudwatch_event_rule.forward[each.key].name
  event_bus_name = var.bus_name
  target_id      = "bus-${var.target_region}"
  arn            = local.target_bus_arn
  role_arn       = aws_iam_role.forward.arn

  dead_letter_config {
    arn = aws_sqs_queue.dlq.arn
  }

  retry_policy {
    maximum_event_age_in_seconds = 86400
    maximum_retry_attempts       = 185
  }
}

resource "aws_cloudwatch_metric_alarm" "dlq_depth" {
  alarm_name          = "${local.name}-dlq-depth"
  alarm_description   = "Events failed to reach ${var.target_region}"
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = aws_sqs_queue.dlq.name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [var.alarm_topic_arn]
  tags                = var.tags
}
