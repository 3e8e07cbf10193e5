# The region's HTTP API (payload format 2.0). Services attach their routes to it.

resource "aws_apigatewayv2_api" "this" {
  name          = "${local.name_prefix}-http"
  protocol_type = "HTTP"
  description   = "HTTP routes of every service in ${var.env}/${var.region}"
  tags          = var.tags
}

resource "aws_cloudwatch_log_group" "http_access" {
  #checkov:skip=CKV_AWS_338:Retention is a variable (365 days by default); shorter values are a deliberate data-minimisation choice per environment.
  name              = "/aws/apigateway/${local.name_prefix}-http"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.this.arn
  tags              = var.tags
}

resource "aws_apigatewayv2_stage" "default" {
  api_id      = aws_apigatewayv2_api.this.id
  name        = "$default"
  auto_deploy = true

  access_log_settings {
    destination_arn = aws_cloudwatch_log_group.http_access.arn
    format = jsonencode({
      requestId      = "$context.requestId"
      ip             = "$context.identity.sourceIp"
      requestTime    = "$context.requestTime"
      httpMethod     = "$context.httpMethod"
      routeKey       = "$context.routeKey"
      status         = "$context.status"
      protocol       = "$context.protocol"
      responseLength = "$context.responseLength"
      integrationErr = "$context.integrationErrorMessage"
    })
  }

  default_route_settings {
    throttling_rate_limit  = var.http_api.throttling_rate_limit
    throttling_burst_limit = var.http_api.throttling_burst_limit
  }

  tags = var.tags
}
