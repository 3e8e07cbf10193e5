output "http_api_endpoint" {
  description = "Base URL of this region's HTTP API."
  value       = module.region.http_api_endpoint
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
