# Alarms (to the region's alarm topic) and one dashboard per service.

# Lambda metrics per function: errors and throttles for every function, and for a stream
# consumer the iterator age too: one that keeps failing blocks its shard (the outbox relay
# retries until the record expires, so nothing is dropped), and its oldest unread record says so first.
locals {
  lambda_alarms = merge([
    for k, f in local.functions : merge(
      {
        "${k}-errors" = {
          function  = k, function_name = f.function_name, suffix = "errors", metric = "Errors",
          statistic = "Sum", period = 300, evaluation_periods = 1,
          threshold = var.alarms.errors_threshold, what = "raised errors"
        }
        "${k}-throttles" = {
          function  = k, function_name = f.function_name, suffix = "throttles", metric = "Throttles",
          statistic = "Sum", period = 300, evaluation_periods = 1,
          threshold = var.alarms.throttles_threshold, what = "was throttled"
        }
      },
      f.trigger_type != "dynamodb_stream" ? {} : {
        "${k}-iterator-age" = {
          function  = k, function_name = f.function_name, suffix = "iterator-age", metric = "IteratorAge",
          statistic = "Maximum", period = 60, evaluation_periods = 5,
          threshold = var.alarms.iterator_age_ms, what = "is falling behind its DynamoDB stream"
        }
      }
    )
  ]...)
}

resource "aws_cloudwatch_metric_alarm" "lambda" {
  for_each            = local.lambda_alarms
  alarm_name          = "${each.value.function_name}-${each.value.suffix}"
  alarm_description   = "${local.service}.${each.value.function} ${each.value.what} (owner ${local.owner})"
  namespace           = "AWS/Lambda"
  metric_name         = each.value.metric
  dimensions          = { FunctionName = each.value.function_name }
  statistic           = each.value.statistic
  period              = each.value.period
  evaluation_periods  = each.value.evaluation_periods
  threshold           = each.value.threshold
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [var.platform.alarm_topic_arn]
  ok_actions          = [var.platform.alarm_topic_arn]
  tags                = local.tags
  depends_on          = [aws_lambda_function.this]
}

resource "aws_cloudwatch_metric_alarm" "dlq_depth" {
  for_each            = local.dlq_functions
  alarm_name          = "${each.value.function_name}-dlq-depth"
  alarm_description   = "Messages are waiting in ${each.value.function_name}-dlq: inspect, fix, redrive (owner ${local.owner})"
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = aws_sqs_queue.dlq[each.key].name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  threshold           = var.alarms.dlq_threshold
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [var.platform.alarm_topic_arn]
  ok_actions          = [var.platform.alarm_topic_arn]
  tags                = local.tags
}

resource "aws_cloudwatch_dashboard" "this" {
  dashboard_name = "${local.env}-${local.service_dash}"
  dashboard_body = jsonencode({
    widgets = concat(
      [for i, k in keys(local.functions) : {
        type   = "metric"
        x      = 0
        y      = i * 6
        width  = 12
        height = 6
        properties = {
          title  = "${local.service}.${k}"
          region = local.region
          stat   = "Sum"
          period = 300
          metrics = [
            ["AWS/Lambda", "Invocations", "FunctionName", local.functions[k].function_name],
            ["AWS/Lambda", "Errors", "FunctionName", local.functions[k].function_name],
            ["AWS/Lambda", "Throttles", "FunctionName", local.functions[k].function_name],
          ]
        }
      }],
      [for i, k in keys(local.functions) : {
        type   = "metric"
        x      = 12
        y      = i * 6
        width  = 12
        height = 6
        properties = {
          title   = "${local.service}.${k} duration"
          region  = local.region
          stat    = "p99"
          period  = 300
          metrics = [["AWS/Lambda", "Duration", "FunctionName", local.functions[k].function_name]]
        }
      }],
      length(local.dlq_functions) == 0 ? [] : [{
        type   = "metric"
        x      = 0
        y      = length(local.functions) * 6
        width  = 24
        height = 6
        properties = {
          title   = "${local.service} dead-letter queues"
          region  = local.region
          stat    = "Maximum"
          period  = 300
          metrics = [for k, f in local.dlq_functions : ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", "${f.function_name}-dlq"]]
        }
      }],
    )
  })
}
