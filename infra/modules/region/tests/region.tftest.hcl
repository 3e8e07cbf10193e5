mock_provider "aws" {
  mock_data "aws_caller_identity" {
    defaults = { account_id = "000000000000" }
  }
  mock_data "aws_partition" {
    defaults = { partition = "aws" }
  }
}

variables {
  env    = "dev"
  region = "eu-west-1"
}

run "platform_names" {
  command = plan

  assert {
    condition     = output.platform.bus_name == "eda-dev" && output.platform.idempotency_table_name == "dev-idempotency"
    error_message = "names differ from devtools.manifest.bus_name / idempotency_table_name"
  }
  assert {
    condition     = aws_dynamodb_table.idempotency.hash_key == "id" && aws_dynamodb_table.idempotency.ttl[0].attribute_name == "expiration"
    error_message = "idempotency table must use Powertools' defaults"
  }
  assert {
    condition     = output.platform.data_residency == "eu"
    error_message = "eu-west-1 is in the eu residency family"
  }
}

run "identity_for_every_route" {
  command = plan

  variables {
    routes = { "POST /orders" = "customer", "PUT /rates/{base}" = "staff", "POST /webhooks/github" = "public" }
  }

  assert {
    condition     = aws_cognito_user_pool.customers.name == "eda-dev-customers" && aws_cognito_user_group.staff.name == "staff"
    error_message = "pool and group names differ from what the local provisioner creates (devtools.manifest)"
  }
  assert {
    condition     = aws_cognito_user_pool_client.mobile.generate_secret == false && aws_cognito_user_pool_client.mobile.allowed_oauth_flows == toset(["code"])
    error_message = "the mobile client is public (no secret) and uses the authorization code grant (with PKCE)"
  }
  assert {
    condition     = !contains(tolist(aws_cognito_user_pool_client.mobile.allowed_oauth_scopes), "eda/staff")
    error_message = "no user may be issued the staff scope through the app"
  }
  assert {
    condition     = aws_cognito_user_pool_client.operations.generate_secret && aws_cognito_user_pool_client.operations.allowed_oauth_flows == toset(["client_credentials"])
    error_message = "the operations client is confidential and machine-only"
  }
  assert {
    condition     = aws_apigatewayv2_authorizer.jwt.authorizer_type == "JWT" && aws_apigatewayv2_authorizer.jwt.identity_sources == toset(["$request.header.Authorization"])
    error_message = "the HTTP API's authorizer reads a JWT from the Authorization header"
  }
  assert {
    condition     = one([for r in aws_apigatewayv2_stage.default.route_settings : r.throttling_rate_limit if r.route_key == "POST /webhooks/github"]) == 20 && one([for r in aws_apigatewayv2_stage.default.route_settings : r.throttling_rate_limit if r.route_key == "POST /orders"]) == 100
    error_message = "each route is throttled by its access"
  }
}

run "refuses_plain_http_redirects" {
  command = plan
  variables {
    identity = { callback_urls = ["http://shop.example/cb"] }
  }
  expect_failures = [var.identity]
}

run "rejects_unknown_env" {
  command = plan
  variables {
    env = "qa"
  }
  expect_failures = [var.env]
}
