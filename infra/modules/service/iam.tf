# One role per function with only what its manifest declares. Statements are built in
# locals so tests/infra can evaluate them for every function (no wildcard actions).

locals {
  table_actions = {
    read       = ["dynamodb:BatchGetItem", "dynamodb:ConditionCheckItem", "dynamodb:DescribeTable", "dynamodb:GetItem", "dynamodb:Query", "dynamodb:Scan"]
    write      = ["dynamodb:BatchWriteItem", "dynamodb:DeleteItem", "dynamodb:PutItem", "dynamodb:UpdateItem"]
    read_write = ["dynamodb:BatchGetItem", "dynamodb:BatchWriteItem", "dynamodb:ConditionCheckItem", "dynamodb:DeleteItem", "dynamodb:DescribeTable", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query", "dynamodb:Scan", "dynamodb:UpdateItem"]
  }
  bucket_object_actions = {
    read       = ["s3:GetObject"]
    write      = ["s3:AbortMultipartUpload", "s3:PutObject"]
    read_write = ["s3:AbortMultipartUpload", "s3:DeleteObject", "s3:GetObject", "s3:PutObject"]
  }

  function_statements = {
    for k, f in local.functions : k => concat(
      [
        {
          Sid      = "WriteOwnLogs"
          Effect   = "Allow"
          Action   = ["logs:CreateLogStream", "logs:PutLogEvents"]
          Resource = ["${aws_cloudwatch_log_group.function[k].arn}:*"]
        },
        {
          # X-Ray does not support resource-level permissions (AWS documented).
          Sid      = "Tracing"
          Effect   = "Allow"
          Action   = ["xray:PutTelemetryRecords", "xray:PutTraceSegments"]
          Resource = ["*"]
        },
        {
          Sid      = "UseRegionKey"
          Effect   = "Allow"
          Action   = ["kms:Decrypt", "kms:GenerateDataKey"]
          Resource = [var.platform.kms_key_arn]
        },
      ],
      length(f.publishes) == 0 ? [] : [{
        Sid      = "PublishOwnEvents"
        Effect   = "Allow"
        Action   = ["events:PutEvents"]
        Resource = [var.platform.bus_arn]
        Condition = {
          # AWS: PutEvents is evaluated per entry; both keys must match this function's events.
          StringEquals = { "events:source" = [local.service], "events:detail-type" = f.publishes }
        }
      }],
      f.uses_queue ? [{
        Sid      = "ConsumeOwnQueue"
        Effect   = "Allow"
        Action   = ["sqs:ChangeMessageVisibility", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage"]
        Resource = [aws_sqs_queue.this[k].arn]
      }] : [],
      f.trigger_type == "dynamodb_stream" ? [
        {
          Sid      = "ReadTableStream"
          Effect   = "Allow"
          Action   = ["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:ListStreams"]
          Resource = [aws_dynamodb_table.this[f.trigger.table].stream_arn]
        },
        {
          Sid      = "StreamFailuresToDlq"
          Effect   = "Allow"
          Action   = ["sqs:SendMessage"]
          Resource = [aws_sqs_queue.dlq[k].arn]
        },
      ] : [],
      f.trigger_type == "schedule" ? [{
        Sid      = "AsyncFailuresToDlq"
        Effect   = "Allow"
        Action   = ["sqs:SendMessage"]
        Resource = [aws_sqs_queue.dlq[k].arn]
      }] : [],
      f.idempotency ? [{
        Sid      = "IdempotencyTable"
        Effect   = "Allow"
        Action   = ["dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"]
        Resource = [var.platform.idempotency_table_arn]
      }] : [],
      [for ref, r in f.access.tables : {
        Sid    = "Table${replace(title(replace(ref, "/[^A-Za-z0-9]/", " ")), " ", "")}"
        Effect = "Allow"
        Action = local.table_actions[r.level]
        Resource = [
          "arn:${local.partition}:dynamodb:${local.region}:${local.account_id}:table/${local.env}-${replace(r.service, "_", "-")}-${r.name}",
          "arn:${local.partition}:dynamodb:${local.region}:${local.account_id}:table/${local.env}-${replace(r.service, "_", "-")}-${r.name}/index/*",
        ]
      }],
      flatten([for ref, r in f.access.buckets : concat(
        [{
          Sid      = "BucketObjects${replace(title(replace(ref, "/[^A-Za-z0-9]/", " ")), " ", "")}"
          Effect   = "Allow"
          Action   = local.bucket_object_actions[r.level]
          Resource = ["arn:${local.partition}:s3:::${local.project}-${local.env}-${replace(r.service, "_", "-")}-${r.name}-${local.account_id}-${local.region}/*"]
        }],
        r.level == "write" ? [] : [{
          Sid      = "BucketList${replace(title(replace(ref, "/[^A-Za-z0-9]/", " ")), " ", "")}"
          Effect   = "Allow"
          Action   = ["s3:ListBucket"]
          Resource = ["arn:${local.partition}:s3:::${local.project}-${local.env}-${replace(r.service, "_", "-")}-${r.name}-${local.account_id}-${local.region}"]
        }],
      )]),
      [for ref, r in f.access.topics : {
        Sid      = "PublishTopic${replace(title(replace(ref, "/[^A-Za-z0-9]/", " ")), " ", "")}"
        Effect   = "Allow"
        Action   = ["sns:Publish"]
        Resource = ["arn:${local.partition}:sns:${local.region}:${local.account_id}:${local.env}-${replace(r.service, "_", "-")}-${r.name}"]
      }],
      [for ref, r in f.access.secrets : {
        Sid    = "ReadSecret${replace(title(replace(ref, "/[^A-Za-z0-9]/", " ")), " ", "")}"
        Effect = "Allow"
        Action = ["secretsmanager:GetSecretValue"]
        # Secrets Manager appends a random 6-character suffix to every secret ARN.
        Resource = [r.service == local.service ? aws_secretsmanager_secret.this[r.name].arn : "arn:${local.partition}:secretsmanager:${local.region}:${local.account_id}:secret:${local.env}/${r.service}/${r.name}-??????"]
      }],
      f.ses_send ? [{
        Sid      = "SendEmail"
        Effect   = "Allow"
        Action   = ["ses:SendEmail", "ses:SendRawEmail"]
        Resource = ["arn:${local.partition}:ses:${local.region}:${local.account_id}:identity/*"]
      }] : [],
    )
  }
}

resource "aws_iam_role" "function" {
  for_each = local.functions
  name     = each.value.function_name
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "lambda.amazonaws.com" }
      Action    = "sts:AssumeRole"
      Condition = { StringEquals = { "aws:SourceAccount" = local.account_id } }
    }]
  })
  tags = local.tags
}

resource "aws_iam_role_policy" "function" {
  for_each = local.functions
  name     = "manifest-access"
  role     = aws_iam_role.function[each.key].id
  policy   = jsonencode({ Version = "2012-10-17", Statement = local.function_statements[each.key] })
}

# EventBridge Scheduler's role: invoke this one function, dead-letter into its DLQ.
resource "aws_iam_role" "scheduler" {
  for_each = local.schedule_functions
  name     = "${each.value.function_name}-scheduler"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "scheduler.amazonaws.com" }
      Action    = "sts:AssumeRole"
      Condition = { StringEquals = { "aws:SourceAccount" = local.account_id } }
    }]
  })
  tags = local.tags
}

resource "aws_iam_role_policy" "scheduler" {
  for_each = local.schedule_functions
  name     = "invoke-function"
  role     = aws_iam_role.scheduler[each.key].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      { Sid = "Invoke", Effect = "Allow", Action = ["lambda:InvokeFunction"], Resource = [aws_lambda_function.this[each.key].arn] },
      { Sid = "DeadLetter", Effect = "Allow", Action = ["sqs:SendMessage"], Resource = [aws_sqs_queue.dlq[each.key].arn] },
      { Sid = "UseRegionKey", Effect = "Allow", Action = ["kms:Decrypt", "kms:GenerateDataKey"], Resource = [var.platform.kms_key_arn] },
    ]
  })
}
