output "service" {
  description = "Service name (from the manifest)."
  value       = local.service
}

output "function_names" {
  description = "Manifest function name -> Lambda function name."
  value       = { for k, f in aws_lambda_function.this : k => f.function_name }
}

output "function_arns" {
  description = "Manifest function name -> Lambda function ARN."
  value       = { for k, f in aws_lambda_function.this : k => f.arn }
}

output "queue_urls" {
  description = "Manifest function name -> its SQS queue URL (SQS-fed functions only)."
  value       = { for k, q in aws_sqs_queue.this : k => q.url }
}

output "dlq_urls" {
  description = "Manifest function name -> its dead-letter queue URL."
  value       = { for k, q in aws_sqs_queue.dlq : k => q.url }
}

output "table_names" {
  description = "Manifest table -> DynamoDB table name."
  value       = { for k, t in aws_dynamodb_table.this : k => t.name }
}

output "bucket_names" {
  description = "Manifest bucket -> S3 bucket name."
  value       = { for k, b in aws_s3_bucket.this : k => b.bucket }
}

output "topic_arns" {
  description = "Manifest topic -> SNS topic ARN."
  value       = { for k, t in aws_sns_topic.this : k => t.arn }
}

output "secret_arns" {
  description = "Manifest secret -> Secrets Manager ARN (set the value out of band)."
  value       = { for k, s in aws_secretsmanager_secret.this : k => s.arn }
}

output "http_routes" {
  description = "Route key -> manifest function name."
  value       = { for r, v in local.http_routes : r => v.function }
}

output "http_route_access" {
  description = "Route key -> who may call it (public, customer, staff), read from the created routes: the region's stage throttles each route and must wait for them."
  value = merge(
    { for r, route in aws_apigatewayv2_route.this : route.route_key => local.http_routes[r].access },
    { for r, route in aws_apigatewayv2_route.public : route.route_key => local.http_routes[r].access },
  )
}
