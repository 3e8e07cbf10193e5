# SQS-fed functions (eventbridge, sns, s3 triggers) read their own queue; every
# asynchronously fed function has a DLQ (queue redrive, stream on-failure, schedule DLQ).

resource "aws_sqs_queue" "dlq" {
  for_each                          = local.dlq_functions
  name                              = "${each.value.function_name}-dlq"
  message_retention_seconds         = 1209600
  kms_master_key_id                 = var.platform.kms_key_arn
  kms_data_key_reuse_period_seconds = 300
  tags                              = local.tags
}

resource "aws_sqs_queue" "this" {
  for_each                          = local.queue_functions
  name                              = each.value.function_name
  visibility_timeout_seconds        = 6 * each.value.timeout + each.value.batching_window
  message_retention_seconds         = 345600
  kms_master_key_id                 = var.platform.kms_key_arn
  kms_data_key_reuse_period_seconds = 300
  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.dlq[each.key].arn
    maxReceiveCount     = each.value.max_receive_count
  })
  tags = local.tags

  lifecycle {
    precondition {
      # AWS: the queue's visibility timeout must be at least 6x the function timeout (+ batching window).
      condition     = 6 * each.value.timeout + each.value.batching_window >= 6 * each.value.timeout && 6 * each.value.timeout + each.value.batching_window <= 43200
      error_message = "Visibility timeout must be >= 6 x the function timeout and <= 43200 s."
    }
    precondition {
      condition     = each.value.batch_size <= 10 || each.value.batching_window >= 1
      error_message = "batch_size > 10 needs batching_window_seconds >= 1."
    }
  }
}

resource "aws_sqs_queue_redrive_allow_policy" "dlq" {
  for_each  = local.queue_functions
  queue_url = aws_sqs_queue.dlq[each.key].id
  redrive_allow_policy = jsonencode({
    redrivePermission = "byQueue"
    sourceQueueArns   = [aws_sqs_queue.this[each.key].arn]
  })
}

# Who may send to each queue: the EventBridge rules, the SNS topic or the S3 bucket that feed it.
resource "aws_sqs_queue_policy" "this" {
  for_each  = local.queue_functions
  queue_url = aws_sqs_queue.this[each.key].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "AllowTriggerSource"
        Effect    = "Allow"
        Principal = { Service = each.value.trigger_type == "sns" ? "sns.amazonaws.com" : (each.value.trigger_type == "s3" && try(local.s3_functions[each.key].delivery, "sqs") == "sqs" ? "s3.amazonaws.com" : "events.amazonaws.com") }
        Action    = ["sqs:SendMessage"]
        Resource  = aws_sqs_queue.this[each.key].arn
        Condition = {
          StringEquals = { "aws:SourceAccount" = local.account_id }
        }
      },
      {
        Sid       = "DenyInsecureTransport"
        Effect    = "Deny"
        Principal = "*"
        Action    = ["sqs:SendMessage", "sqs:ReceiveMessage", "sqs:DeleteMessage"]
        Resource  = aws_sqs_queue.this[each.key].arn
        Condition = { Bool = { "aws:SecureTransport" = "false" } }
      },
    ]
  })
}

# The DLQ of an SQS-fed function also receives EventBridge target failures.
resource "aws_sqs_queue_policy" "dlq" {
  for_each  = local.dlq_functions
  queue_url = aws_sqs_queue.dlq[each.key].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "AllowEventBridgeAndSchedulerDeadLetters"
        Effect    = "Allow"
        Principal = { Service = ["events.amazonaws.com", "scheduler.amazonaws.com"] }
        Action    = ["sqs:SendMessage"]
        Resource  = aws_sqs_queue.dlq[each.key].arn
        Condition = { StringEquals = { "aws:SourceAccount" = local.account_id } }
      },
      {
        Sid       = "DenyInsecureTransport"
        Effect    = "Deny"
        Principal = "*"
        Action    = ["sqs:SendMessage", "sqs:ReceiveMessage", "sqs:DeleteMessage"]
        Resource  = aws_sqs_queue.dlq[each.key].arn
        Condition = { Bool = { "aws:SecureTransport" = "false" } }
      },
    ]
  })
}

resource "aws_lambda_event_source_mapping" "queue" {
  for_each                           = local.queue_functions
  event_source_arn                   = aws_sqs_queue.this[each.key].arn
  function_name                      = aws_lambda_function.this[each.key].arn
  batch_size                         = each.value.batch_size
  maximum_batching_window_in_seconds = each.value.batching_window
  function_response_types            = ["ReportBatchItemFailures"]

  dynamic "scaling_config" {
    for_each = each.value.maximum_concurrency == null ? [] : [each.value.maximum_concurrency]
    content {
      maximum_concurrency = scaling_config.value
    }
  }

  tags = local.tags
}
