variable "topology_path" {
  description = "Path of infra/topology.yaml, the one declaration this module expands."
  type        = string
}

variable "project" {
  description = "GCP project id."
  type        = string
}

variable "project_number" {
  description = "GCP project number (Secret Manager resource names in IAM conditions use it)."
  type        = string
}

variable "region" {
  description = "Region of the functions."
  type        = string
}

variable "memory_overrides" {
  description = "Function name -> memory (e.g. \"2Gi\"), replacing the topology's value."
  type        = map(string)
  default     = {}
}

variable "max_instances_overrides" {
  description = "Function name -> max instances, replacing the topology's value."
  type        = map(number)
  default     = {}
}

variable "accounts" {
  description = "Connected platform accounts; each gets an empty secret <platform>-account-<account_id>."
  type = list(object({
    platform   = string
    account_id = string
  }))
  default = []
}

variable "buffer_configs" {
  description = "Buffer configuration ids; each gets an empty secret buffer-config-<id> that POST /api/v1/buffer/config (with that id) writes the key to."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for id in var.buffer_configs : can(regex("^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$", id))])
    error_message = "A Buffer configuration id is letters, digits, _ and - (at most 100, first a letter or digit), as the API takes it."
  }
}

variable "approval_function" {
  description = "The public function whose URL goes into approval links."
  type        = string
  default     = "approval-http"
}
