# Everything derived from the manifest. Names and environment variables mirror
# scripts/devtools/manifest.py (function_name, queue_name, dlq_name, table_name,
# bucket_name, topic_name, secret_name, Deployment.function_environment);
# tests/infra checks that both agree for every function of every manifest.

locals {
  manifest      = yamldecode(file(var.manifest_path))
  service       = local.manifest.name
  service_dash  = replace(local.service, "_", "-")
  owner         = local.manifest.owner
  project       = "eda"
  env           = var.platform.env
  region        = var.platform.region
  account_id    = var.platform.account_id
  partition     = var.platform.partition
  tags          = merge(var.tags, { service = local.service, owner = local.owner })
  zip_path      = "${var.dist_dir}/${local.service}.zip"
  zip_hash_path = "${local.zip_path}.base64sha256" # written by `make package`

  # Trigger types read through the function's own SQS queue (+ DLQ).
  sqs_trigger_types = ["eventbridge", "sns", "s3"]

  tables  = try(local.manifest.resources.tables, {})
  buckets = try(local.manifest.resources.buckets, {})
  topics  = try(local.manifest.resources.topics, {})
  secrets = try(local.manifest.resources.secrets, {})

  table_names  = { for t, spec in local.tables : t => "${local.env}-${local.service_dash}-${t}" }
  bucket_names = { for b, spec in local.buckets : b => "${local.project}-${local.env}-${local.service_dash}-${b}-${local.account_id}-${local.region}" }
  topic_names  = { for t, spec in local.topics : t => "${local.env}-${local.service_dash}-${t}" }
  secret_names = { for s, spec in local.secrets : s => "${local.env}/${local.service}/${s}" }

  functions = {
    for name, f in local.manifest.functions : name => {
      function_name        = "${local.env}-${local.service_dash}-${replace(name, "_", "-")}"
      handler              = f.handler
      description          = try(f.description, "")
      memory               = f.memory
      timeout              = f.timeout
      runtime              = try(f.runtime, try(local.manifest.runtime, "python3.12"))
      architecture         = try(f.architecture, try(local.manifest.architecture, "arm64"))
      reserved_concurrency = try(f.reserved_concurrency, null)
      log_retention_days   = try(f.log_retention_days, 30)
      trigger              = f.trigger
      trigger_type         = f.trigger.type
      uses_queue           = contains(local.sqs_trigger_types, f.trigger.type)
      batch_size           = try(f.trigger.batch_size, f.trigger.type == "dynamodb_stream" ? 100 : 10)
      batching_window      = try(f.trigger.batching_window_seconds, 0)
      max_receive_count    = try(f.trigger.max_receive_count, 3)
      maximum_concurrency  = try(f.trigger.maximum_concurrency, null)
      publishes            = try(f.publishes, [])
      idempotency          = try(f.idempotency, false)
      ses_send             = try(f.access.ses_send, false)
      environment          = try(f.environment, {})
      # access.<kind>: "name" (own) or "service:name" -> {service, name, level}
      access = {
        for kind in ["tables", "buckets", "topics", "secrets"] : kind => {
          for ref, level in try(f.access[kind], {}) : ref => {
            service = strcontains(ref, ":") ? split(":", ref)[0] : local.service
            name    = strcontains(ref, ":") ? split(":", ref)[1] : ref
            level   = level
          }
        }
      }
    }
  }

  # ---------------------------------------------------------------- per-trigger subsets
  queue_functions    = { for k, f in local.functions : k => f if f.uses_queue }
  stream_functions   = { for k, f in local.functions : k => f if f.trigger_type == "dynamodb_stream" }
  schedule_functions = { for k, f in local.functions : k => f if f.trigger_type == "schedule" }
  http_functions     = { for k, f in local.functions : k => f if f.trigger_type == "http" }
  sns_functions      = { for k, f in local.functions : k => f if f.trigger_type == "sns" }
  # Every asynchronously fed function has a dead-letter queue: its SQS queue's DLQ, the
  # stream mapping's on-failure destination, or the schedule's DLQ.
  dlq_functions = { for k, f in local.functions : k => f if f.trigger_type != "http" }

  # One EventBridge rule per (function, source): a pattern is a cross product of its fields.
  event_rules = merge([
    for k, f in local.functions : {
      for source in distinct([for e in f.trigger.events : e.source]) : "${k}.${source}" => {
        function = k
        name     = "${f.function_name}-${replace(source, "_", "-")}"
        pattern = merge(
          { source = [source], "detail-type" = sort([for e in f.trigger.events : e.detail_type if e.source == source]) },
          try({ detail = f.trigger.detail_filter }, {}),
        )
      }
    } if f.trigger_type == "eventbridge"
  ]...)

  # S3 triggers: the bucket ref resolved to a physical name; delivery sqs (default) or eventbridge.
  s3_functions = {
    for k, f in local.functions : k => merge(f, {
      bucket_service = strcontains(f.trigger.bucket, ":") ? split(":", f.trigger.bucket)[0] : local.service
      bucket_key     = strcontains(f.trigger.bucket, ":") ? split(":", f.trigger.bucket)[1] : f.trigger.bucket
      bucket_name    = "${local.project}-${local.env}-${replace(strcontains(f.trigger.bucket, ":") ? split(":", f.trigger.bucket)[0] : local.service, "_", "-")}-${strcontains(f.trigger.bucket, ":") ? split(":", f.trigger.bucket)[1] : f.trigger.bucket}-${local.account_id}-${local.region}"
      delivery       = try(f.trigger.delivery, "sqs")
      prefix         = try(f.trigger.prefix, "")
      suffix         = try(f.trigger.suffix, "")
    }) if f.trigger_type == "s3"
  }
  s3_eventbridge_functions = { for k, f in local.s3_functions : k => f if f.delivery == "eventbridge" }
  s3_sqs_functions         = { for k, f in local.s3_functions : k => f if f.delivery == "sqs" }

  # SNS triggers: topic ARN derived from the (own or other service's) topic name.
  sns_topic_arns = {
    for k, f in local.sns_functions : k => "arn:${local.partition}:sns:${local.region}:${local.account_id}:${local.env}-${replace(strcontains(f.trigger.topic, ":") ? split(":", f.trigger.topic)[0] : local.service, "_", "-")}-${strcontains(f.trigger.topic, ":") ? split(":", f.trigger.topic)[1] : f.trigger.topic}"
  }

  # HTTP: "METHOD /path" -> {function, access, scopes}. The manifest maps each route to its access:
  # `customer`, `staff`, or {access, scopes, verified_by} (devtools.manifest.RouteAccess).
  http_routes = merge([for k, f in local.http_functions : {
    for r, a in f.trigger.routes : r => {
      function = k
      access   = try(a.access, a)
      scopes   = try(tolist(a.scopes), [])
    }
  }]...)
  # Routes behind the region's JWT authorizer, and the public ones (no authorizer: their function
  # verifies the caller, e.g. a webhook's HMAC signature).
  authorized_routes = { for r, v in local.http_routes : r => v if v.access != "public" }
  public_routes     = { for r, v in local.http_routes : r => v if v.access == "public" }

  # ---------------------------------------------------------------- environment
  function_environment = {
    for k, f in local.functions : k => merge(
      {
        POWERTOOLS_SERVICE_NAME      = local.service
        POWERTOOLS_METRICS_NAMESPACE = local.project
        POWERTOOLS_LOG_LEVEL         = var.log_level
        DEPLOY_ENV                   = local.env
        DATA_RESIDENCY               = var.platform.data_residency
        EVENT_BUS_NAME               = var.platform.bus_name
      },
      f.idempotency ? { IDEMPOTENCY_TABLE = var.platform.idempotency_table_name } : {},
      { for ref, r in f.access.tables : "TABLE_${replace(upper(r.name), "/[^A-Z0-9]/", "_")}" => "${local.env}-${replace(r.service, "_", "-")}-${r.name}" },
      f.trigger_type == "dynamodb_stream" ? { "TABLE_${replace(upper(f.trigger.table), "/[^A-Z0-9]/", "_")}" = local.table_names[f.trigger.table] } : {},
      { for ref, r in f.access.buckets : "BUCKET_${replace(upper(r.name), "/[^A-Z0-9]/", "_")}" => "${local.project}-${local.env}-${replace(r.service, "_", "-")}-${r.name}-${local.account_id}-${local.region}" },
      { for ref, r in f.access.topics : "TOPIC_${replace(upper(r.name), "/[^A-Z0-9]/", "_")}_ARN" => "arn:${local.partition}:sns:${local.region}:${local.account_id}:${local.env}-${replace(r.service, "_", "-")}-${r.name}" },
      { for ref, r in f.access.secrets : "SECRET_${replace(upper(r.name), "/[^A-Z0-9]/", "_")}_ARN" => r.service == local.service ? aws_secretsmanager_secret.this[r.name].arn : "arn:${local.partition}:secretsmanager:${local.region}:${local.account_id}:secret:${local.env}/${r.service}/${r.name}" },
      f.environment,
    )
  }
}
