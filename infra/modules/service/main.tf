# One Lambda function (and log group) per manifest function: for_each over the manifest,
# so adding a function to services/<name>/service.yaml needs no change here.

resource "aws_cloudwatch_log_group" "function" {
  #checkov:skip=CKV_AWS_338:Retention comes from the manifest's log_retention_days (30 days by default): data minimisation for logs that may carry personal data.
  for_each          = local.functions
  name              = "/aws/lambda/${each.value.function_name}"
  retention_in_days = each.value.log_retention_days
  kms_key_id        = var.platform.kms_key_arn
  tags              = local.tags
}

resource "aws_lambda_function" "this" {
  #checkov:skip=CKV_AWS_117:Functions call only AWS public endpoints (no private resources); a VPC would add NAT cost and cold-start latency for no isolation gain.
  #checkov:skip=CKV_AWS_272:Zips are built and hashed by `make package` in CI (source_code_hash); Lambda code signing needs AWS Signer, not used in this project.
  #checkov:skip=CKV_AWS_116:No function is invoked asynchronously by Lambda's own queue except schedules, which get an on-failure destination (aws_lambda_function_event_invoke_config); SQS, stream and schedule DLQs are configured on the event sources.
  #checkov:skip=CKV_AWS_115:Reserved concurrency is set from the manifest's reserved_concurrency where the service declares one.
  for_each = local.functions

  function_name                  = each.value.function_name
  description                    = each.value.description
  role                           = aws_iam_role.function[each.key].arn
  handler                        = each.value.handler
  runtime                        = each.value.runtime
  architectures                  = [each.value.architecture]
  memory_size                    = each.value.memory
  timeout                        = each.value.timeout
  reserved_concurrent_executions = each.value.reserved_concurrency
  filename                       = local.zip_path
  source_code_hash               = fileexists(local.zip_hash_path) ? trimspace(file(local.zip_hash_path)) : null
  kms_key_arn                    = var.platform.kms_key_arn

  environment {
    variables = local.function_environment[each.key]
  }

  tracing_config {
    mode = "Active"
  }

  logging_config {
    log_format = "JSON"
    log_group  = aws_cloudwatch_log_group.function[each.key].name
  }

  tags = local.tags

  lifecycle {
    precondition {
      condition     = fileexists(local.zip_hash_path)
      error_message = "${local.zip_hash_path} is missing: run `make package` first (make plan does)."
    }
    precondition {
      condition     = length(each.value.function_name) <= 64
      error_message = "Lambda function names are at most 64 characters: ${each.value.function_name}."
    }
    precondition {
      condition     = startswith(each.value.handler, "${local.service}.")
      error_message = "The handler must live in the service package ${local.service}."
    }
  }
}

# Scheduled functions are invoked asynchronously: failed invocations go to the DLQ.
resource "aws_lambda_function_event_invoke_config" "schedule" {
  for_each                     = local.schedule_functions
  function_name                = aws_lambda_function.this[each.key].function_name
  maximum_retry_attempts       = 2
  maximum_event_age_in_seconds = 3600

  destination_config {
    on_failure {
      destination = aws_sqs_queue.dlq[each.key].arn
    }
  }
}
