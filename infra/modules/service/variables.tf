variable "manifest_path" {
  description = "Path to the service's manifest (services/<name>/service.yaml). The module creates every function, queue, rule, table, bucket, topic and secret it declares; adding a function needs no HCL change."
  type        = string

  validation {
    condition     = can(yamldecode(file(var.manifest_path)).functions)
    error_message = "manifest_path must point to a readable service.yaml with a `functions` map."
  }
  validation {
    condition     = alltrue([for f in values(yamldecode(file(var.manifest_path)).functions) : f.memory >= 128 && f.memory <= 10240 && floor(f.memory) == f.memory])
    error_message = "Lambda memory must be a whole number of MB between 128 and 10240."
  }
  validation {
    condition     = alltrue([for f in values(yamldecode(file(var.manifest_path)).functions) : f.timeout >= 1 && f.timeout <= 900])
    error_message = "Lambda timeout must be between 1 and 900 seconds."
  }
  validation {
    condition     = alltrue([for f in values(yamldecode(file(var.manifest_path)).functions) : contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], try(f.log_retention_days, 30))])
    error_message = "log_retention_days must be a value CloudWatch Logs accepts."
  }
  validation {
    # AWS: an SQS event source with batch_size > 10 needs a batching window of at least 1 second.
    condition     = alltrue([for f in values(yamldecode(file(var.manifest_path)).functions) : !contains(["eventbridge", "sns", "s3"], f.trigger.type) || try(f.trigger.batch_size, 10) <= 10 || try(f.trigger.batching_window_seconds, 0) >= 1])
    error_message = "An SQS-fed trigger with batch_size > 10 needs batching_window_seconds >= 1."
  }
  validation {
    condition     = alltrue([for f in values(yamldecode(file(var.manifest_path)).functions) : !contains(["eventbridge", "sns", "s3"], f.trigger.type) || (try(f.trigger.batch_size, 10) >= 1 && try(f.trigger.batch_size, 10) <= 10000)])
    error_message = "SQS event source batch_size must be between 1 and 10000."
  }
  validation {
    # AWS: the queue's visibility timeout (6 x timeout + window here) may not exceed 12 hours.
    condition     = alltrue([for f in values(yamldecode(file(var.manifest_path)).functions) : 6 * f.timeout + try(f.trigger.batching_window_seconds, 0) <= 43200])
    error_message = "6 x timeout + batching_window_seconds (the queue visibility timeout) must not exceed 43200 seconds."
  }
  validation {
    condition     = alltrue([for f in values(yamldecode(file(var.manifest_path)).functions) : contains(["python3.12", "python3.13"], try(f.runtime, try(yamldecode(file(var.manifest_path)).runtime, "python3.12"))) && contains(["arm64", "x86_64"], try(f.architecture, try(yamldecode(file(var.manifest_path)).architecture, "arm64")))])
    error_message = "runtime must be python3.12 or python3.13 and architecture arm64 or x86_64."
  }
  validation {
    condition     = alltrue([for f in values(yamldecode(file(var.manifest_path)).functions) : try(f.reserved_concurrency, null) == null || try(f.reserved_concurrency >= 0, false)])
    error_message = "reserved_concurrency must be >= 0 when set."
  }
}

variable "dist_dir" {
  description = "Folder holding <service>.zip and <service>.zip.base64sha256 built by `make package`."
  type        = string
}

variable "platform" {
  description = "The region's shared platform: the region module's `platform` output."
  type = object({
    env                    = string
    region                 = string
    data_residency         = string
    account_id             = string
    partition              = string
    bus_name               = string
    bus_arn                = string
    kms_key_arn            = string
    idempotency_table_name = string
    idempotency_table_arn  = string
    http_api_id            = string
    http_api_execution_arn = string
    http_api_authorizer_id = string
    alarm_topic_arn        = string
    access_log_bucket      = string
    force_destroy          = optional(bool, false)
  })

  validation {
    condition     = contains(["dev", "staging", "prod"], var.platform.env)
    error_message = "platform.env must be one of dev, staging, prod."
  }
  validation {
    condition     = can(regex("^[a-z]{2}-[a-z]+-[1-9]$", var.platform.region))
    error_message = "platform.region must be an AWS region name such as eu-west-1."
  }
}

variable "log_level" {
  description = "POWERTOOLS_LOG_LEVEL of every function."
  type        = string
  default     = "INFO"

  validation {
    condition     = contains(["DEBUG", "INFO", "WARNING", "ERROR"], var.log_level)
    error_message = "log_level must be DEBUG, INFO, WARNING or ERROR."
  }
}

variable "alarms" {
  description = "Alarm thresholds: function errors and throttles per 5 minutes, DLQ depth, stream iterator age (ms)."
  type = object({
    errors_threshold    = optional(number, 1)
    throttles_threshold = optional(number, 1)
    dlq_threshold       = optional(number, 1)
    iterator_age_ms     = optional(number, 300000)
  })
  default = {}

  validation {
    condition     = var.alarms.errors_threshold >= 1 && var.alarms.throttles_threshold >= 1 && var.alarms.dlq_threshold >= 1
    error_message = "Alarm thresholds must be >= 1."
  }

  validation {
    condition     = var.alarms.iterator_age_ms >= 1000
    error_message = "iterator_age_ms must be at least 1000 (Lambda reports IteratorAge in milliseconds)."
  }
}

variable "tags" {
  description = "Extra tags for the service's resources; the module adds service and owner from the manifest."
  type        = map(string)
  default     = {}
}
