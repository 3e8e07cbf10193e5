variable "env" {
  description = "Environment of this root (matches the folder name)."
  type        = string

  validation {
    condition     = contains(["dev", "staging", "prod"], var.env)
    error_message = "env must be one of dev, staging, prod."
  }
}

variable "region" {
  description = "Region of this root (matches the folder name)."
  type        = string

  validation {
    condition     = contains(["eu-west-1", "eu-central-1", "us-east-1", "ap-southeast-1"], var.region)
    error_message = "region must be one of the regions this project deploys to."
  }
}

variable "force_destroy" {
  description = "Let terraform destroy delete buckets that still hold objects (dev only; prod keeps data, and its tables keep deletion protection)."
  type        = bool
  default     = false
}

variable "owner" {
  description = "Owner tag of shared (non-service) resources."
  type        = string
  default     = "@acme/platform"
}

variable "allowed_account_ids" {
  description = "Accounts this root may touch (guards against applying dev to prod)."
  type        = list(string)
  default     = null
}

variable "alarm_emails" {
  description = "Email subscribers of the region's alarm topic."
  type        = list(string)
  default     = []
}

variable "forwarding" {
  description = "Cross-region forwarding of personal-data-free events (null = none). The forwarding module rejects EU -> non-EU targets; tests/infra checks every listed event is marked free of personal data."
  type = object({
    target_region = string
    events = list(object({
      source      = string
      detail_type = string
    }))
  })
  default = null
}
