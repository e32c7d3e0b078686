variable "project" {
  description = "GCP project id to deploy into."
  type        = string
}

variable "region" {
  description = "Region for functions, Scheduler jobs and the function source bucket."
  type        = string
  default     = "europe-west1"
}

variable "firestore_location" {
  description = "Firestore database location (a multi-region like eur3/nam5 or a region). Fixed once created."
  type        = string
  default     = "eur3"
}

variable "bigquery_location" {
  description = "Location of the BigQuery dataset."
  type        = string
  default     = "EU"
}

variable "memory_overrides" {
  description = "Function name -> memory (\"512Mi\", \"2Gi\"); functions not named keep infra/topology.yaml's value."
  type        = map(string)
  default     = {}
}

variable "max_instances_overrides" {
  description = "Function name -> max instances; functions not named keep infra/topology.yaml's value."
  type        = map(number)
  default     = {}
}

variable "accounts" {
  description = "Platform accounts to connect; each gets an empty secret <platform>-account-<account_id> to add the token to."
  type = list(object({
    platform   = string
    account_id = string
  }))
  default = []
}

variable "function_environment" {
  description = "Extra environment for every function, e.g. POSTGATE_APPROVERS, POSTGATE_NOTIFIER, POSTGATE_GENERATOR (see shared/runtime/config.py)."
  type        = map(string)
  default     = {}
}

variable "http_invokers" {
  description = "Members (e.g. group:marketing@example.com) allowed to call the HTTP functions that are not public (generate-http)."
  type        = list(string)
  default     = []

  validation {
    # Opening a function to everyone is the topology's decision (trigger.public), not a variable's.
    condition     = length(setintersection(var.http_invokers, ["allUsers", "allAuthenticatedUsers"])) == 0
    error_message = "http_invokers must name identities; mark a function public in infra/topology.yaml instead."
  }
}
