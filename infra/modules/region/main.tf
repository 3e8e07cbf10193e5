# The region's shared platform: one bus (with an archive for replay), one KMS key, the
# Powertools idempotency table, the HTTP API, the alarm topic and the access-log bucket.
# Service modules receive all of it through the `platform` output.

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

locals {
  account_id  = data.aws_caller_identity.current.account_id
  partition   = data.aws_partition.current.partition
  project     = "eda"
  bus_name    = "${local.project}-${var.env}"
  family      = lookup({ eu = "eu", us = "us", ap = "apac", ca = "ca", sa = "sa", me = "me", af = "af" }, split("-", var.region)[0], split("-", var.region)[0])
  name_prefix = "${local.project}-${var.env}"
  # Names are known at plan time; services derive the same ones (scripts/devtools/manifest.py).
  idempotency_table_name = "${var.env}-idempotency"
}

# ------------------------------------------------------------------------------ event bus

resource "aws_cloudwatch_event_bus" "this" {
  name = local.bus_name
  tags = var.tags
}

resource "aws_cloudwatch_event_archive" "this" {
  name             = "${local.bus_name}-archive"
  description      = "Every event on ${local.bus_name}, kept for replay."
  event_source_arn = aws_cloudwatch_event_bus.this.arn
  retention_days   = var.archive_retention_days
}

# ------------------------------------------------------------------------------ idempotency

# Powertools' DynamoDBPersistenceLayer defaults: partition key "id", TTL attribute "expiration".
resource "aws_dynamodb_table" "idempotency" {
  name                        = local.idempotency_table_name
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "id"
  deletion_protection_enabled = var.env == "prod"

  attribute {
    name = "id"
    type = "S"
  }

  ttl {
    attribute_name = "expiration"
    enabled        = true
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = aws_kms_key.this.arn
  }

  tags = var.tags
}

# ------------------------------------------------------------------------------ alarms

resource "aws_sns_topic" "alarms" {
  name              = "${local.name_prefix}-alarms"
  kms_master_key_id = aws_kms_key.this.arn
  tags              = var.tags
}

resource "aws_sns_topic_subscription" "alarm_email" {
  for_each  = toset(var.alarm_emails)
  topic_arn = aws_sns_topic.alarms.arn
  protocol  = "email"
  endpoint  = each.value
}
