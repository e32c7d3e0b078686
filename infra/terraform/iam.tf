# The roles of each function's service account: exactly module.topology.grants, which is derived
# from the function's access block in infra/topology.yaml (tests/test_terraform.py holds it to that).

locals {
  function_members = { for name, sa in google_service_account.function : name => "serviceAccount:${sa.email}" }
}

resource "google_project_iam_member" "function_access" {
  for_each = module.topology.grants_by_kind["project"]
  project  = var.project
  role     = each.value.role
  member   = local.function_members[each.value.function]

  # Secret prefix grants: platform account secrets are created per connected account.
  dynamic "condition" {
    for_each = each.value.condition_expression == null ? [] : [each.value]
    content {
      title      = condition.value.condition_title
      expression = condition.value.condition_expression
    }
  }
}

resource "google_storage_bucket_iam_member" "function_access" {
  for_each = module.topology.grants_by_kind["bucket"]
  bucket   = google_storage_bucket.topology[each.value.resource].name
  role     = each.value.role
  member   = local.function_members[each.value.function]
}

resource "google_pubsub_topic_iam_member" "function_access" {
  for_each = module.topology.grants_by_kind["topic"]
  project  = var.project
  topic    = google_pubsub_topic.topic[each.value.resource].name
  role     = each.value.role
  member   = local.function_members[each.value.function]
}

resource "google_secret_manager_secret_iam_member" "function_access" {
  for_each  = module.topology.grants_by_kind["secret"]
  project   = var.project
  secret_id = google_secret_manager_secret.secret[each.value.resource].secret_id
  role      = each.value.role
  member    = local.function_members[each.value.function]
}

resource "google_bigquery_table_iam_member" "function_access" {
  for_each   = module.topology.grants_by_kind["table"]
  project    = var.project
  dataset_id = google_bigquery_dataset.postgate.dataset_id
  # A grant names a table or a view (both are google_bigquery_table resources).
  table_id = merge(google_bigquery_table.table, google_bigquery_table.view)[each.value.resource].table_id
  role     = each.value.role
  member   = local.function_members[each.value.function]
}

# sign_urls: the function signs V4 URLs through signBlob as itself, on its own account only.
resource "google_service_account_iam_member" "function_access" {
  for_each           = module.topology.grants_by_kind["service_account"]
  service_account_id = google_service_account.function[each.value.resource].name
  role               = each.value.role
  member             = local.function_members[each.value.function]
}
