# Resources the manifest owns: tables, buckets, topics, secrets.

# ------------------------------------------------------------------ DynamoDB tables
resource "aws_dynamodb_table" "this" {
  for_each                    = local.tables
  name                        = local.table_names[each.key]
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = each.value.hash_key.name
  range_key                   = try(each.value.range_key.name, null)
  stream_enabled              = try(each.value.stream, null) != null
  stream_view_type            = try(each.value.stream, null)
  deletion_protection_enabled = local.env == "prod"

  dynamic "attribute" {
    for_each = concat([each.value.hash_key], try([each.value.range_key], []))
    content {
      name = attribute.value.name
      type = attribute.value.type
    }
  }

  dynamic "ttl" {
    for_each = try([each.value.ttl_attribute], [])
    content {
      attribute_name = ttl.value
      enabled        = true
    }
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = var.platform.kms_key_arn
  }

  tags = local.tags
}

# ------------------------------------------------------------------ S3 buckets
resource "aws_s3_bucket" "this" {
  #checkov:skip=CKV_AWS_144:Cross-region replication would copy possibly personal data out of its residency region; durability comes from versioning within the region.
  #checkov:skip=CKV2_AWS_62:Event notifications are configured in aws_s3_bucket_notification.this (EventBridge enabled on every service bucket).
  for_each      = local.buckets
  bucket        = local.bucket_names[each.key]
  force_destroy = var.platform.force_destroy
  tags          = local.tags

  lifecycle {
    precondition {
      condition     = length(local.bucket_names[each.key]) <= 63
      error_message = "S3 bucket names are at most 63 characters: ${local.bucket_names[each.key]}."
    }
  }
}

resource "aws_s3_bucket_public_access_block" "this" {
  for_each                = local.buckets
  bucket                  = aws_s3_bucket.this[each.key].id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "this" {
  for_each = local.buckets
  bucket   = aws_s3_bucket.this[each.key].id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "this" {
  for_each = local.buckets
  bucket   = aws_s3_bucket.this[each.key].id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = var.platform.kms_key_arn
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_versioning" "this" {
  for_each = local.buckets
  bucket   = aws_s3_bucket.this[each.key].id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "this" {
  for_each = local.buckets
  bucket   = aws_s3_bucket.this[each.key].id

  rule {
    id     = "retention"
    status = "Enabled"
    filter {}

    dynamic "expiration" {
      for_each = try([each.value.expire_after_days], [])
      content {
        days = expiration.value
      }
    }
    noncurrent_version_expiration {
      noncurrent_days = 30
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }
}

resource "aws_s3_bucket_logging" "this" {
  for_each      = local.buckets
  bucket        = aws_s3_bucket.this[each.key].id
  target_bucket = var.platform.access_log_bucket
  target_prefix = "${local.bucket_names[each.key]}/"
}

resource "aws_s3_bucket_policy" "this" {
  for_each = local.buckets
  bucket   = aws_s3_bucket.this[each.key].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "DenyInsecureTransport"
      Effect    = "Deny"
      Principal = "*"
      Action    = ["s3:DeleteObject", "s3:GetObject", "s3:ListBucket", "s3:PutObject"]
      Resource  = [aws_s3_bucket.this[each.key].arn, "${aws_s3_bucket.this[each.key].arn}/*"]
      Condition = { Bool = { "aws:SecureTransport" = "false" } }
    }]
  })
  depends_on = [aws_s3_bucket_public_access_block.this]
}

# ------------------------------------------------------------------ SNS topics
resource "aws_sns_topic" "this" {
  for_each          = local.topics
  name              = local.topic_names[each.key]
  kms_master_key_id = var.platform.kms_key_arn
  tags              = local.tags
}

# ------------------------------------------------------------------ secrets (no value in Terraform)
resource "aws_secretsmanager_secret" "this" {
  #checkov:skip=CKV2_AWS_57:Values are issued by third parties (webhook providers) and set out of band; rotation follows the provider's process, not a Lambda rotator.
  for_each                = local.secrets
  name                    = local.secret_names[each.key]
  description             = try(each.value.description, "${local.service} secret ${each.key}")
  kms_key_id              = var.platform.kms_key_arn
  recovery_window_in_days = local.env == "prod" ? 30 : 7
  tags                    = local.tags
}
