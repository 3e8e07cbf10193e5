# The region's HTTP API (payload format 2.0). Services attach their routes to it, each with the
# authorizer below unless its manifest declares it public (the webhooks: infra/modules/service).

resource "aws_apigatewayv2_api" "this" {
  name          = "${local.name_prefix}-http"
  protocol_type = "HTTP"
  description   = "HTTP routes of every service in ${var.env}/${var.region}"
  tags          = var.tags
}

locals {
  issuer = "https://${aws_cognito_user_pool.customers.endpoint}"
}

# API Gateway validates every token of an authorized route before the function runs: signature
# (the pool's JWKS), iss, aud (ID tokens) or client_id (access tokens) against these clients, exp,
# nbf, iat, and the route's scopes when it declares any. It never checks groups (shared/auth.py).
resource "aws_apigatewayv2_authorizer" "jwt" {
  api_id           = aws_apigatewayv2_api.this.id
  name             = "${local.user_pool_name}-jwt"
  authorizer_type  = "JWT"
  identity_sources = ["$request.header.Authorization"]

  jwt_configuration {
    issuer   = local.issuer
    audience = [aws_cognito_user_pool_client.mobile.id, aws_cognito_user_pool_client.operations.id]
  }
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

  # HTTP APIs have no usage plans or API keys (per-client limits are a REST API feature), so each
  # route gets its own bucket, sized by who may call it: unauthenticated webhook floods or a staff
  # tool cannot use up the customers' share of the stage's limit.
  dynamic "route_settings" {
    for_each = var.routes
    content {
      route_key              = route_settings.key
      throttling_rate_limit  = var.http_api.route_throttling[route_settings.value].rate_limit
      throttling_burst_limit = var.http_api.route_throttling[route_settings.value].burst_limit
    }
  }

  tags = var.tags
}
