output "prefix" {
  value = local.prefix
}

output "functions" {
  value = local.functions
}

output "public_functions" {
  description = "Functions the topology marks public: callable without IAM (guarded by their own tokens)."
  value       = { for name, fn in local.functions : name => fn if fn.public }
}

output "private_http_functions" {
  description = "HTTP functions that only var.http_invokers may call."
  value       = [for name, fn in local.functions : name if fn.trigger_type == "http" && !fn.public]
}

output "sources" {
  description = "Source key -> folder under the repository root."
  value       = { for key, dirs in local.sources : key => dirs[0] }
}

output "topics" {
  value = local.topics
}

output "dead_letter_topics" {
  value = local.dead_letter_topics
}

output "subscriptions" {
  value = local.subscriptions
}

output "schedules" {
  value = local.schedules
}

output "bigquery_dataset" {
  value = local.topology.bigquery.dataset
}

output "tables" {
  value = local.tables
}

output "views" {
  description = "BigQuery views: name -> description and standard-SQL query, `{dataset}` replaced by project.dataset."
  value = {
    for name, view in try(local.topology.bigquery.views, {}) : name => {
      name        = name
      description = try(view.description, "")
      query       = replace(view.query, "{dataset}", "${var.project}.${local.topology.bigquery.dataset}")
    }
  }
}

output "buckets" {
  value = local.buckets
}

output "secrets" {
  value = local.secrets

  precondition {
    condition     = alltrue([for account in var.accounts : contains(local.platforms, account.platform)])
    error_message = "Every account's platform must be one a topic declares: ${join(", ", local.platforms)}."
  }
}

output "firestore_indexes" {
  value = local.firestore_indexes
}

output "firestore_ttl" {
  value = local.firestore_ttl
}

output "grants" {
  value = local.grants
}

output "grants_by_kind" {
  value = { for kind in local.grant_kinds : kind => { for key, grant in local.grants : key => grant if grant.kind == kind } }
}

output "api_url" {
  description = "URL of the content API function (OAuth redirect URIs are built from it)."
  value       = "https://${var.region}-${var.project}.cloudfunctions.net/api"
}

output "approval_url" {
  description = "URL of the approval function, known before it exists (gen2 functions answer on cloudfunctions.net)."
  value       = "https://${var.region}-${var.project}.cloudfunctions.net/${var.approval_function}"
}

output "console_url" {
  description = "URL of the console: the function that serves it (infra/topology.yaml routes.console) and its path."
  value = one([
    for name, fn in local.topology.functions :
    "https://${var.region}-${var.project}.cloudfunctions.net/${name}${fn.routes.console}" if can(fn.routes.console)
  ])
}
