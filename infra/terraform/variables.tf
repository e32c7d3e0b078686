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

variable "buffer_configs" {
  description = "Buffer configuration ids; each gets an empty secret buffer-config-<id> for its API key (docs/deploy.md)."
  type        = list(string)
  default     = []
}

variable "function_environment" {
  description = "Extra environment for every function, e.g. POSTGATE_APPROVERS, POSTGATE_NOTIFIER, POSTGATE_GENERATOR (see shared/runtime/config.py)."
  type        = map(string)
  default     = {}

  validation {
    # The console's password-less sign-in page is for the local stack only (docs/console.md).
    condition     = !contains(keys(var.function_environment), "POSTGATE_CONSOLE_LOCAL_SIGN_IN")
    error_message = "POSTGATE_CONSOLE_LOCAL_SIGN_IN is for the local stack only; a deployment signs people in with Google (console_oauth_client_id)."
  }
}

variable "console_oauth_client_id" {
  description = "OAuth client id (type Web application, <id>.apps.googleusercontent.com) of the console's Sign in with Google; its Authorized JavaScript origin is the api_url's scheme and host (docs/console.md). Empty: nobody can sign in to the console."
  type        = string
  default     = ""

  validation {
    condition     = var.console_oauth_client_id == "" || endswith(var.console_oauth_client_id, ".apps.googleusercontent.com")
    error_message = "console_oauth_client_id is a Google OAuth client id, ending in .apps.googleusercontent.com."
  }
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

variable "public_access" {
  # "all_users" grants roles/run.invoker to allUsers on each public function's Cloud Run service, which
  # organisations enforcing Domain Restricted Sharing (iam.allowedPolicyMemberDomains) refuse;
  # "invoker_iam_disabled" turns Cloud Run's invoker IAM check off on those services instead (no allUsers
  # binding) and needs gcloud where Terraform runs (functions.tf, docs/deploy.md#1-bootstrap-once-per-project).
  description = "How the functions the topology marks public (approval-http, api) take requests without a Google identity: \"all_users\" (an allUsers invoker binding) or \"invoker_iam_disabled\" (Cloud Run's invoker IAM check off, for organisations enforcing Domain Restricted Sharing)."
  type        = string
  default     = "all_users"

  validation {
    condition     = contains(["all_users", "invoker_iam_disabled"], var.public_access)
    error_message = "public_access must be \"all_users\" or \"invoker_iam_disabled\"."
  }
}

variable "alert_emails" {
  description = "E-mail addresses every alert goes to (one email notification channel each)."
  type        = list(string)
  default     = []
}

variable "alert_slack_channel" {
  description = "Slack channel (e.g. \"#postgate-alerts\") every alert also goes to; needs alert_slack_auth_token. Empty: no Slack channel."
  type        = string
  default     = ""
}

variable "alert_slack_auth_token" {
  description = "OAuth token of the Slack app that posts to alert_slack_channel (or create the channel in the console and pass its id in alert_notification_channels)."
  type        = string
  default     = null
  sensitive   = true
}

variable "alert_notification_channels" {
  description = "Existing notification channel ids (projects/<project>/notificationChannels/<id>) every alert also goes to, e.g. a Slack channel made in the console."
  type        = list(string)
  default     = []
}

variable "firestore_backup_retention_days" {
  description = "How many days each daily Firestore backup is kept before Firestore deletes it: a whole number from 1 to 98 (Firestore keeps a backup for at most 14 weeks). Backups are billed by the storage they hold."
  type        = number
  default     = 14

  validation {
    # Firestore refuses a retention above 14 weeks (the backupSchedules resource's `retention`).
    condition     = var.firestore_backup_retention_days == floor(var.firestore_backup_retention_days) && var.firestore_backup_retention_days >= 1 && var.firestore_backup_retention_days <= 98
    error_message = "firestore_backup_retention_days must be a whole number of days from 1 to 98 (Firestore keeps a backup for at most 14 weeks)."
  }
}
