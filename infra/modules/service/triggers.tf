# ------------------------------------------------------------------ EventBridge -> SQS
resource "aws_cloudwatch_event_rule" "this" {
  for_each       = local.event_rules
  name           = each.value.name
  description    = "${local.service}.${each.value.function} consumes ${join(", ", each.value.pattern["detail-type"])} from ${each.value.pattern.source[0]}"
  event_bus_name = var.platform.bus_name
  event_pattern  = jsonencode(each.value.pattern)
  tags           = local.tags

  lifecycle {
    precondition {
      condition     = length(each.value.name) <= 64
      error_message = "EventBridge rule names are at most 64 characters: ${each.value.name}."
    }
  }
}

resource "aws_cloudwatch_event_target" "this" {
  for_each       = local.event_rules
  rule           = aws_cloudwatch_event_rule.this[each.key].name
  event_bus_name = var.platform.bus_name
  target_id      = "sqs"
  arn            = aws_sqs_queue.this[each.value.function].arn

  dead_letter_config {
    arn = aws_sqs_queue.dlq[each.value.function].arn
  }

  retry_policy {
    maximum_event_age_in_seconds = 86400
    maximum_retry_attempts       = 185
  }
}

# ------------------------------------------------------------------ SNS -> SQS
resource "aws_sns_topic_subscription" "this" {
  for_each             = local.sns_functions
  topic_arn            = local.sns_topic_arns[each.key]
  protocol             = "sqs"
  endpoint             = aws_sqs_queue.this[each.key].arn
  raw_message_delivery = true
  filter_policy        = try(jsonencode(each.value.trigger.filter_policy), null)
  filter_policy_scope  = try(each.value.trigger.filter_policy, null) == null ? null : try(each.value.trigger.filter_policy_scope, "MessageAttributes")
  redrive_policy       = jsonencode({ deadLetterTargetArn = aws_sqs_queue.dlq[each.key].arn })

  depends_on = [aws_sns_topic.this]
}

# ------------------------------------------------------------------ S3 -> SQS or EventBridge -> SQS
# A bucket has one notification configuration, so it lives with the bucket's owner:
# S3 -> SQS delivery works for the owning service's functions; other services use
# `delivery: eventbridge` (EventBridge notifications are enabled on every bucket).
resource "aws_s3_bucket_notification" "this" {
  for_each    = local.buckets
  bucket      = aws_s3_bucket.this[each.key].id
  eventbridge = true

  dynamic "queue" {
    for_each = { for k, f in local.s3_sqs_functions : k => f if f.bucket_service == local.service && f.bucket_key == each.key }
    content {
      id            = queue.key
      queue_arn     = aws_sqs_queue.this[queue.key].arn
      events        = ["s3:ObjectCreated:*"]
      filter_prefix = queue.value.prefix == "" ? null : queue.value.prefix
      filter_suffix = queue.value.suffix == "" ? null : queue.value.suffix
    }
  }

  depends_on = [aws_sqs_queue_policy.this]

  lifecycle {
    precondition {
      condition     = alltrue([for k, f in local.s3_sqs_functions : f.bucket_service == local.service])
      error_message = "S3 triggers on another service's bucket must use `delivery: eventbridge` (a bucket has one notification configuration, owned by its service)."
    }
  }
}

# S3 sends its EventBridge notifications to the region's default bus.
resource "aws_cloudwatch_event_rule" "s3" {
  for_each    = local.s3_eventbridge_functions
  name        = "${each.value.function_name}-s3"
  description = "${local.service}.${each.key}: objects created in ${each.value.bucket_name}"
  event_pattern = jsonencode({
    source        = ["aws.s3"]
    "detail-type" = ["Object Created"]
    detail = merge(
      { bucket = { name = [each.value.bucket_name] } },
      each.value.prefix == "" && each.value.suffix == "" ? {} : { object = { key = [{ wildcard = "${each.value.prefix}*${each.value.suffix}" }] } },
    )
  })
  tags = local.tags
}

resource "aws_cloudwatch_event_target" "s3" {
  for_each  = local.s3_eventbridge_functions
  rule      = aws_cloudwatch_event_rule.s3[each.key].name
  target_id = "sqs"
  arn       = aws_sqs_queue.this[each.key].arn

  dead_letter_config {
    arn = aws_sqs_queue.dlq[each.key].arn
  }

  retry_policy {
    maximum_event_age_in_seconds = 86400
    maximum_retry_attempts       = 185
  }
}

# ------------------------------------------------------------------ DynamoDB stream
resource "aws_lambda_event_source_mapping" "stream" {
  for_each                           = local.stream_functions
  event_source_arn                   = aws_dynamodb_table.this[each.value.trigger.table].stream_arn
  function_name                      = aws_lambda_function.this[each.key].arn
  starting_position                  = try(each.value.trigger.starting_position, "TRIM_HORIZON")
  batch_size                         = each.value.batch_size
  maximum_batching_window_in_seconds = each.value.batching_window
  bisect_batch_on_function_error     = try(each.value.trigger.bisect_batch_on_error, true)
  maximum_retry_attempts             = try(each.value.trigger.maximum_retry_attempts, 10)
  function_response_types            = ["ReportBatchItemFailures"]

  destination_config {
    on_failure {
      destination_arn = aws_sqs_queue.dlq[each.key].arn
    }
  }

  tags = local.tags
}

# ------------------------------------------------------------------ schedules
resource "aws_scheduler_schedule" "this" {
  for_each                     = local.schedule_functions
  name                         = each.value.function_name
  description                  = "${local.service}.${each.key}"
  schedule_expression          = each.value.trigger.expression
  schedule_expression_timezone = try(each.value.trigger.timezone, "UTC")
  kms_key_arn                  = var.platform.kms_key_arn

  flexible_time_window {
    mode = "OFF"
  }

  target {
    arn      = aws_lambda_function.this[each.key].arn
    role_arn = aws_iam_role.scheduler[each.key].arn

    dead_letter_config {
      arn = aws_sqs_queue.dlq[each.key].arn
    }

    retry_policy {
      maximum_event_age_in_seconds = 3600
      maximum_retry_attempts       = 3
    }
  }
}

# ------------------------------------------------------------------ HTTP API (payload 2.0)
resource "aws_apigatewayv2_integration" "this" {
  for_each               = local.http_functions
  api_id                 = var.platform.http_api_id
  integration_type       = "AWS_PROXY"
  integration_uri        = aws_lambda_function.this[each.key].invoke_arn
  payload_format_version = "2.0"
  timeout_milliseconds   = min(30000, each.value.timeout * 1000)
}

# customer and staff routes: the region's JWT authorizer (the user pool) validates the token first;
# scopes, where the manifest declares them, are required by the authorizer too. Group checks
# (staff) happen in the function: a JWT authorizer evaluates scopes, not groups.
resource "aws_apigatewayv2_route" "this" {
  for_each             = local.authorized_routes
  api_id               = var.platform.http_api_id
  route_key            = each.key
  target               = "integrations/${aws_apigatewayv2_integration.this[each.value.function].id}"
  authorization_type   = "JWT"
  authorizer_id        = var.platform.http_api_authorizer_id
  authorization_scopes = length(each.value.scopes) > 0 ? each.value.scopes : null
}

# Routes the manifest declares `{access: public, verified_by: hmac-signature}`, and only those.
resource "aws_apigatewayv2_route" "public" {
  #checkov:skip=CKV_AWS_309:Only routes a manifest declares public with verified_by hmac-signature (the GitHub and Slack webhooks): their senders cannot send a JWT, and the function verifies the HMAC signature of every delivery.
  for_each           = local.public_routes
  api_id             = var.platform.http_api_id
  route_key          = each.key
  target             = "integrations/${aws_apigatewayv2_integration.this[each.value.function].id}"
  authorization_type = "NONE"
}

resource "aws_lambda_permission" "http" {
  for_each      = local.http_routes
  statement_id  = "AllowHttpApi-${replace(each.key, "/[^A-Za-z0-9]/", "-")}"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.this[each.value.function].function_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${var.platform.http_api_execution_arn}/*/${split(" ", each.key)[0]}${split(" ", each.key)[1]}"
}
