output "rule_names" {
  description = "Source service -> forwarding rule name."
  value       = { for k, r in aws_cloudwatch_event_rule.forward : k => r.name }
}

output "target_bus_arn" {
  description = "ARN of the bus the events are forwarded to."
  value       = local.target_bus_arn
}
