# Cloud Storage notifications: a bucket with `notify` in infra/topology.yaml publishes an OBJECT_FINALIZE
# message (object resource JSON) to its topic for each object written under its prefix. The reports bucket
# so tells report-ingest about CSVs dropped under incoming/; its moves into processed/ and failed/ stay quiet.

locals {
  # Bucket name in the topology -> its notify block ({topic, prefix}).
  bucket_notifications = {
    for name, bucket in yamldecode(file(local.topology_path)).storage.buckets :
    name => { topic = bucket.notify.topic, prefix = try(bucket.notify.prefix, "") }
    if try(bucket.notify, null) != null
  }
  notification_topics = toset([for notification in local.bucket_notifications : notification.topic])
}

# The project's Cloud Storage service agent publishes the notifications; reading it also makes Google create it.
data "google_storage_project_service_account" "gcs" {
  project = var.project
}

resource "google_pubsub_topic_iam_member" "storage_notifications" {
  for_each = local.notification_topics
  project  = var.project
  topic    = google_pubsub_topic.topic[each.value].name
  role     = "roles/pubsub.publisher"
  member   = "serviceAccount:${data.google_storage_project_service_account.gcs.email_address}"
}

resource "google_storage_notification" "bucket" {
  for_each           = local.bucket_notifications
  bucket             = google_storage_bucket.topology[each.key].name
  topic              = google_pubsub_topic.topic[each.value.topic].id
  payload_format     = "JSON_API_V1"
  event_types        = ["OBJECT_FINALIZE"]
  object_name_prefix = each.value.prefix

  # Creating the notification fails unless the service agent may already publish to the topic.
  depends_on = [google_pubsub_topic_iam_member.storage_notifications]
}
