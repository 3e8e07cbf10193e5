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

run "rejects_unknown_env" {
  command = plan
  variables {
    env = "qa"
  }
  expect_failures = [var.env]
}
