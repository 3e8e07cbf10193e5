# Who calls the HTTP API: one Cognito user pool per env/region (customers, and staff in group
# `staff`), the mobile app's client (authorization code + PKCE, no secret), a machine client for
# operations tools (client credentials, scope eda/staff), and the resource server that defines
# that scope. The HTTP API's JWT authorizer (http_api.tf) trusts this pool only, so tokens of
# another env/region (or of the local runtime, whose pool lives in moto) are refused: another issuer.
#
# scripts/devtools/local/provision.py creates the same pool in moto and tests/infra compares the
# two through the AWS APIs (devtools.wiring: user_pools); names and scopes mirror
# scripts/devtools/manifest.py (STAFF_GROUP, RESOURCE_SERVER, RESOURCE_SERVER_SCOPES).

locals {
  user_pool_name   = "${local.name_prefix}-customers"
  resource_server  = "eda"
  staff_group      = "staff"
  staff_scope_name = "staff"
  # Prefix of the hosted UI / managed login domain (<prefix>.auth.<region>.amazoncognito.com):
  # globally unique, hence the account and region.
  user_pool_domain = "${local.name_prefix}-${local.account_id}-${var.region}"
}

resource "aws_cognito_user_pool" "customers" {
  name = local.user_pool_name

  # Customers sign in with their email address; Cognito verifies it before it can be used.
  username_attributes      = ["email"]
  auto_verified_attributes = ["email"]
  deletion_protection      = var.env == "prod" ? "ACTIVE" : "INACTIVE"
  mfa_configuration        = "OPTIONAL"

  software_token_mfa_configuration {
    enabled = true
  }

  password_policy {
    minimum_length                   = 12
    require_lowercase                = true
    require_uppercase                = true
    require_numbers                  = true
    require_symbols                  = false
    temporary_password_validity_days = 3
  }

  account_recovery_setting {
    recovery_mechanism {
      name     = "verified_email"
      priority = 1
    }
  }

  admin_create_user_config {
    allow_admin_create_user_only = false # customers sign up in the app; staff are added to the group
  }

  tags = var.tags
}

resource "aws_cognito_user_pool_domain" "this" {
  domain       = local.user_pool_domain
  user_pool_id = aws_cognito_user_pool.customers.id
}

# Staff are users of the same pool in this group. API Gateway's JWT authorizer checks scopes, never
# groups: functions of staff routes check `cognito:groups` themselves (shared/auth.py).
resource "aws_cognito_user_group" "staff" {
  name         = local.staff_group
  user_pool_id = aws_cognito_user_pool.customers.id
  description  = "Operations staff: stock, prices and exchange rates (checked by the functions)."
}

resource "aws_cognito_resource_server" "this" {
  identifier   = local.resource_server
  name         = "${local.name_prefix} HTTP API"
  user_pool_id = aws_cognito_user_pool.customers.id

  scope {
    scope_name        = local.staff_scope_name
    scope_description = "Operations: stock, prices and exchange rates."
  }
}

# The mobile app: a public client (no secret, nothing to steal from the app binary) using the
# hosted UI's authorization code grant with PKCE; refresh tokens keep it signed in for 30 days.
resource "aws_cognito_user_pool_client" "mobile" {
  name                                 = "mobile"
  user_pool_id                         = aws_cognito_user_pool.customers.id
  generate_secret                      = false
  allowed_oauth_flows_user_pool_client = true
  allowed_oauth_flows                  = ["code"]
  allowed_oauth_scopes                 = ["openid", "email", "profile"]
  supported_identity_providers         = ["COGNITO"]
  callback_urls                        = var.identity.callback_urls
  logout_urls                          = var.identity.logout_urls
  explicit_auth_flows                  = ["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
  prevent_user_existence_errors        = "ENABLED"
  enable_token_revocation              = true
  access_token_validity                = 60
  id_token_validity                    = 60
  refresh_token_validity               = 30

  token_validity_units {
    access_token  = "minutes"
    id_token      = "minutes"
    refresh_token = "days"
  }

  depends_on = [aws_cognito_user_pool_domain.this]
}

# Operations tools (a rates feed, a stock import): a confidential client that gets eda/staff access
# tokens by client credentials, for routes declaring `{access: staff, scopes: [eda/staff]}`. No user
# can be issued that scope: the mobile client does not allow it.
resource "aws_cognito_user_pool_client" "operations" {
  name                                 = "operations"
  user_pool_id                         = aws_cognito_user_pool.customers.id
  generate_secret                      = true
  allowed_oauth_flows_user_pool_client = true
  allowed_oauth_flows                  = ["client_credentials"]
  allowed_oauth_scopes                 = aws_cognito_resource_server.this.scope_identifiers
  supported_identity_providers         = ["COGNITO"]
  explicit_auth_flows                  = ["ALLOW_REFRESH_TOKEN_AUTH"]
  prevent_user_existence_errors        = "ENABLED"
  enable_token_revocation              = true
  access_token_validity                = 60

  token_validity_units {
    access_token  = "minutes"
    id_token      = "minutes"
    refresh_token = "days"
  }

  depends_on = [aws_cognito_user_pool_domain.this]
}
