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
    http_api_authorizer_id = aws_apigatewayv2_authorizer.jwt.id
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

output "user_pool_id" {
  description = "Id of the region's Cognito user pool (customers, and staff in group `staff`)."
  value       = aws_cognito_user_pool.customers.id
}

output "user_pool_client_id" {
  description = "Id of the mobile app's client (public: authorization code grant with PKCE, no secret)."
  value       = aws_cognito_user_pool_client.mobile.id
}

output "operations_client_id" {
  description = "Id of the operations tools' client (client credentials, scope eda/staff; its secret stays in Cognito and the state)."
  value       = aws_cognito_user_pool_client.operations.id
}

output "issuer" {
  description = "Token issuer the JWT authorizer trusts (https://cognito-idp.<region>.amazonaws.com/<pool id>); its OIDC discovery document is <issuer>/.well-known/openid-configuration."
  value       = local.issuer
}

output "hosted_ui_domain" {
  description = "Hosted UI / managed login domain (authorize and token endpoints) for the app's sign-in."
  value       = "https://${aws_cognito_user_pool_domain.this.domain}.auth.${var.region}.amazoncognito.com"
}
