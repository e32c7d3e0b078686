# BigQuery views declared in infra/topology.yaml (bigquery.views): the SQL lives there once and is
# read here, by infra/local/provision.py and by shared/analytics/campaign.py.

resource "google_bigquery_table" "view" {
  #checkov:skip=CKV_GCP_80:A view stores no data of its own; its tables' encryption applies.
  #checkov:skip=CKV_GCP_121:A view holds no data and is re-created from the topology.
  for_each    = module.topology.views
  project     = var.project
  dataset_id  = google_bigquery_dataset.postgate.dataset_id
  table_id    = each.key
  description = each.value.description

  view {
    query          = each.value.query
    use_legacy_sql = false
  }

  # Nothing to lose: dropping a view deletes no rows.
  deletion_protection = false

  # BigQuery resolves the tables a view names when it is created.
  depends_on = [google_bigquery_table.table]
}
