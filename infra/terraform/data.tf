# Firestore, BigQuery, Cloud Storage and Secret Manager, as declared in infra/topology.yaml.

resource "google_firestore_database" "default" {
  project                           = var.project
  name                              = "(default)"
  location_id                       = var.firestore_location
  type                              = "FIRESTORE_NATIVE"
  point_in_time_recovery_enablement = "POINT_IN_TIME_RECOVERY_ENABLED"
  delete_protection_state           = "DELETE_PROTECTION_ENABLED"
  # Posts and approvals are the audit trail: `terraform destroy` leaves the database in place.
  deletion_policy = "ABANDON"

  depends_on = [google_project_service.required]
}

resource "google_firestore_index" "composite" {
  for_each   = module.topology.firestore_indexes
  project    = var.project
  database   = google_firestore_database.default.name
  collection = each.value.collection

  dynamic "fields" {
    for_each = each.value.fields
    content {
      field_path = split(" ", fields.value)[0]
      order      = endswith(fields.value, " desc") ? "DESCENDING" : "ASCENDING"
    }
  }
}

# Time-to-live policies: Firestore deletes a document once its timestamp field has passed.
resource "google_firestore_field" "ttl" {
  for_each   = module.topology.firestore_ttl
  project    = var.project
  database   = google_firestore_database.default.name
  collection = each.value.collection
  field      = each.value.field

  ttl_config {}
  # TTL fields are not queried: no single-field index entries to pay for.
  index_config {}
}

resource "google_bigquery_dataset" "postgate" {
  #checkov:skip=CKV_GCP_81:Google-managed encryption is enough for publish logs; a CMEK key ring is an org-level choice.
  project    = var.project
  dataset_id = module.topology.bigquery_dataset
  location   = var.bigquery_location

  depends_on = [google_project_service.required]
}

resource "google_bigquery_table" "table" {
  #checkov:skip=CKV_GCP_80:Google-managed encryption is enough for publish logs; a CMEK key ring is an org-level choice.
  for_each    = module.topology.tables
  project     = var.project
  dataset_id  = google_bigquery_dataset.postgate.dataset_id
  table_id    = each.key
  description = each.value.description
  schema      = each.value.schema
  clustering  = length(each.value.clustering) > 0 ? each.value.clustering : null

  time_partitioning {
    type  = "DAY"
    field = each.value.partition_field
  }

  deletion_protection = true
}

resource "google_storage_bucket" "topology" {
  #checkov:skip=CKV_GCP_62:Access is audited by Cloud Audit Logs (data access); a second logs bucket adds nothing here.
  #checkov:skip=CKV_GCP_78:Objects are written once and expire by lifecycle; versions would only keep expired media.
  for_each                    = module.topology.buckets
  project                     = var.project
  name                        = each.value.bucket_name
  location                    = each.value.location
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"

  lifecycle_rule {
    condition {
      age = each.value.delete_after_days
    }
    action {
      type = "Delete"
    }
  }

  # Browser uploads from the console (the bucket's browser_uploads in infra/topology.yaml).
  dynamic "cors" {
    for_each = each.value.cors
    content {
      origin          = cors.value.origin
      method          = cors.value.method
      response_header = cors.value.response_header
      max_age_seconds = cors.value.max_age_seconds
    }
  }

  depends_on = [google_project_service.required]
}

resource "google_secret_manager_secret" "secret" {
  for_each  = module.topology.secrets
  project   = var.project
  secret_id = each.value

  replication {
    auto {}
  }

  depends_on = [google_project_service.required]
}
