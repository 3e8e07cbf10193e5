output "http_api_endpoint" {
  description = "Base URL of this region's HTTP API."
  value       = module.region.http_api_endpoint
}

output "user_pool_id" {
  description = "This region's Cognito user pool (customers; staff in group `staff`)."
  value       = module.region.user_pool_id
}

output "user_pool_client_id" {
  description = "The mobile app's client id (authorization code grant with PKCE, no secret)."
  value       = module.region.user_pool_client_id
}

output "issuer" {
  description = "Token issuer the HTTP API's JWT authorizer trusts."
  value       = module.region.issuer
}

output "hosted_ui_domain" {
  description = "Hosted UI / managed login base URL for the app's sign-in (/oauth2/authorize, /oauth2/token)."
  value       = module.region.hosted_ui_domain
}

output "bus_arn" {
  description = "ARN of this region's event bus."
  value       = module.region.bus_arn
}

output "services" {
  description = "Per service: function names, queues, tables, buckets, topics, secrets."
  value = { for name, s in module.service : name => {
    functions   = s.function_names
    queue_urls  = s.queue_urls
    dlq_urls    = s.dlq_urls
    tables      = s.table_names
    buckets     = s.bucket_names
    topics      = s.topic_arns
    secrets     = s.secret_arns
    http_routes = s.http_routes
  } }
}
