variable "env" {
  description = "Deployment environment name."
  type        = string

  validation {
    condition     = contains(["dev", "staging", "prod"], var.env)
    error_message = "env must be one of dev, staging, prod."
  }
}

variable "source_region" {
  description = "Region whose bus the events leave (the root's region)."
  type        = string

  validation {
    condition     = can(regex("^[a-z]{2}-[a-z]+-[1-9]$", var.source_region))
    error_message = "source_region must be an AWS region name."
  }
}

variable "target_region" {
  description = "Region whose bus receives the forwarded events. Data residency: a source region in the EU family may only forward to another EU region."
  type        = string

  validation {
    condition     = can(regex("^[a-z]{2}-[a-z]+-[1-9]$", var.target_region)) && var.target_region != var.source_region
    error_message = "target_region must be an AWS region name different from source_region."
  }
  validation {
    condition     = split("-", var.source_region)[0] != "eu" || split("-", var.target_region)[0] == "eu"
    error_message = "Data residency: events never leave the EU region family (source is in the EU, target is not)."
  }
}

variable "bus_name" {
  description = "Name of the event bus in both regions (eda-<env>)."
  type        = string
}

variable "kms_key_arn" {
  description = "The source region's KMS key (encrypts the forwarding DLQ)."
  type        = string
}

variable "alarm_topic_arn" {
  description = "The source region's alarm topic (DLQ depth alarm)."
  type        = string
}

variable "events" {
  description = "Events to forward, as {source, detail_type}. Only events whose schema says contains_personal_data = false may be listed (tests/infra checks this against shared.events)."
  type = list(object({
    source      = string
    detail_type = string
  }))

  validation {
    condition     = length(var.events) > 0
    error_message = "List at least one event to forward (or do not instantiate the module)."
  }
  validation {
    condition     = alltrue([for e in var.events : can(regex("^[a-z][a-z0-9_]{1,30}$", e.source)) && can(regex("^[A-Z][A-Za-z0-9]{2,63}$", e.detail_type))])
    error_message = "Each event needs a service `source` and an event-name `detail_type`."
  }
}

variable "tags" {
  description = "Extra tags for the forwarding resources."
  type        = map(string)
  default     = {}
}
