variable "env" {
  description = "Deployment environment name (dev, staging or prod); prefixes every physical name."
  type        = string

  validation {
    condition     = contains(["dev", "staging", "prod"], var.env)
    error_message = "env must be one of dev, staging, prod."
  }
}

variable "region" {
  description = "AWS region this root deploys to; must equal the provider's region."
  type        = string

  validation {
    condition     = can(regex("^(us|eu|ap|ca|sa|me|af|il|mx)-(north|south|east|west|central|northeast|southeast|southwest|northwest)-[1-9]$", var.region))
    error_message = "region must be an AWS commercial region name such as eu-west-1."
  }
}

variable "log_retention_days" {
  description = "Retention of the region's own log groups (HTTP API access logs), in days."
  type        = number
  default     = 365

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a value CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653)."
  }
}

variable "archive_retention_days" {
  description = "How long the bus archive keeps events for replay (0 = forever)."
  type        = number
  default     = 30

  validation {
    condition     = var.archive_retention_days >= 0 && floor(var.archive_retention_days) == var.archive_retention_days
    error_message = "archive_retention_days must be a whole number >= 0."
  }
}

variable "http_api" {
  description = "HTTP API stage throttling (requests per second and burst): the stage default, and each route's by its access (public, customer, staff)."
  type = object({
    throttling_rate_limit  = optional(number, 100)
    throttling_burst_limit = optional(number, 200)
    route_throttling = optional(map(object({
      rate_limit  = number
      burst_limit = number
      })), {
      public   = { rate_limit = 20, burst_limit = 40 }
      customer = { rate_limit = 100, burst_limit = 200 }
      staff    = { rate_limit = 10, burst_limit = 20 }
    })
  })
  default = {}

  validation {
    condition     = var.http_api.throttling_rate_limit > 0 && var.http_api.throttling_burst_limit >= 0
    error_message = "throttling_rate_limit must be > 0 and throttling_burst_limit >= 0."
  }
  validation {
    condition     = alltrue([for a in ["public", "customer", "staff"] : contains(keys(var.http_api.route_throttling), a)]) && alltrue([for t in values(var.http_api.route_throttling) : t.rate_limit > 0 && t.burst_limit >= 0])
    error_message = "route_throttling needs public, customer and staff, each with rate_limit > 0 and burst_limit >= 0."
  }
}

variable "routes" {
  description = "Every service's HTTP routes (route key -> access: public, customer or staff), for per-route throttling on the stage. Pass the service modules' `http_route_access` outputs: they name created routes, so the stage waits for them."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for a in values(var.routes) : contains(["public", "customer", "staff"], a)])
    error_message = "routes map each route key to public, customer or staff."
  }
}

variable "identity" {
  description = "The mobile app's sign-in redirects (hosted UI / managed login, authorization code grant with PKCE)."
  type = object({
    callback_urls = optional(list(string), ["eda-shop://auth/signed-in"])
    logout_urls   = optional(list(string), ["eda-shop://auth/signed-out"])
  })
  default = {}

  validation {
    condition     = length(var.identity.callback_urls) > 0 && alltrue([for u in concat(var.identity.callback_urls, var.identity.logout_urls) : startswith(u, "http://localhost") || (can(regex("^[a-z][a-z0-9+.-]*://", u)) && !startswith(u, "http://"))])
    error_message = "identity URLs must be https, http://localhost or an app scheme (Cognito refuses plain http elsewhere)."
  }
}

variable "alarm_emails" {
  description = "Email addresses subscribed to the region's alarm topic (confirmed out of band)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for e in var.alarm_emails : can(regex("^[^@ ]+@[^@ ]+\\.[^@ ]+$", e))])
    error_message = "alarm_emails must be email addresses."
  }
}

variable "force_destroy" {
  description = "Let terraform destroy delete the region's and the services' buckets with their objects (dev only: prod keeps its data)."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Extra tags for the region's resources (the provider adds the default tags)."
  type        = map(string)
  default     = {}
}
