# Daily backups of the Firestore database. It holds what nothing else holds: the content items and their
# approvals (bound to the content hash), every post and its state history, the accounts, campaigns and the
# metadata-change audit. BigQuery has only the logs and metrics derived from them.
# Restoring one, and the drill that checks it: docs/runbook.md#backups-and-restore.
#
# Firestore takes the backup once a day (UTC) and deletes it after the retention; the schedule belongs to the
# database and goes with it (a database restored into "(default)" needs `terraform apply` again for it), while
# the backups themselves outlive a deleted database until they expire.
resource "google_firestore_backup_schedule" "daily" {
  project  = var.project
  database = google_firestore_database.default.name

  retention = "${var.firestore_backup_retention_days * 86400}s"

  daily_recurrence {}
}
