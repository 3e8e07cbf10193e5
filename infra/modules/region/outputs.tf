output "platform" {
  description = "Everything a service module needs from its region (pass it as the service module's `platform`)."
  value = {
    env                    = var.env
    region                 = var.region
    data_residency         = local.family
    account_id             = local.account_id
    partition              = local.partition
    bus_name               = local.bus_name
    bus_arn                = aws_cloudwatch_event_bus.this.arn
    kms_key_arn            = aws_kms_key.this.arn
    idempotency_table_name = local.idempotency_table_name
    idempotency_table_arn  = aws_dynamodb_table.idempotency.arn
    http_api_id            = aws_apigatewayv2_api.this.id
    http_api_execution_arn = aws_apigatewayv2_api.this.execution_arn
    alarm_topic_arn        = aws_sns_topic.alarms.arn
    # Through the policy, so a bucket's logging is configured only once the target accepts logs
    # (else a first apply can fail with InvalidTargetBucketForLogging).
    access_log_bucket = aws_s3_bucket_policy.access_logs.bucket
    force_destroy     = var.force_destroy
  }
}

output "http_api_endpoint" {
  description = "Base URL of the region's HTTP API."
  value       = aws_apigatewayv2_api.this.api_endpoint
}

output "bus_arn" {
  description = "ARN of the region's event bus (a forwarding target for other regions)."
  value       = aws_cloudwatch_event_bus.this.arn
}
