# Topics, their dead-letter topics, push subscriptions to the functions, and Scheduler ticks.

resource "google_pubsub_topic" "topic" {
  #checkov:skip=CKV_GCP_83:Google-managed encryption; messages carry ids, not content or tokens.
  for_each = module.topology.topics
  project  = var.project
  name     = each.key

  depends_on = [google_project_service.required]
}

resource "google_pubsub_topic" "dead_letter" {
  #checkov:skip=CKV_GCP_83:Google-managed encryption; messages carry ids, not content or tokens.
  for_each = module.topology.dead_letter_topics
  project  = var.project
  name     = each.key

  depends_on = [google_project_service.required]
}

# Dead-lettered messages wait here for a person to look at them.
resource "google_pubsub_subscription" "dead_letter_inspection" {
  for_each                   = module.topology.dead_letter_topics
  project                    = var.project
  name                       = each.value.inspection_subscription
  topic                      = google_pubsub_topic.dead_letter[each.key].id
  message_retention_duration = each.value.message_retention
  ack_deadline_seconds       = 60

  # The default expires a subscription after 31 idle days; a quiet dead-letter topic is the goal.
  expiration_policy {
    ttl = ""
  }
}

# The identity Pub/Sub signs push requests with; only it may invoke the Pub/Sub-fed functions.
resource "google_service_account" "pubsub_push" {
  project      = var.project
  account_id   = "${local.prefix}-pubsub-push"
  display_name = "Postgate Pub/Sub push to functions"

  # On a fresh project the IAM API must be on before an account can be created.
  depends_on = [google_project_service.required]
}

# Pub/Sub's service agent (local.pubsub_service_agent) exists only once the API is on and Google has made
# it; generateServiceIdentity makes it now, so the grants to it below cannot race its creation. The GA
# provider has no such resource, hence google-beta (pinned to the same major in versions.tf).
resource "google_project_service_identity" "pubsub" {
  provider = google-beta
  project  = var.project
  service  = "pubsub.googleapis.com"

  depends_on = [google_project_service.required]
}

resource "google_pubsub_subscription" "push" {
  for_each             = module.topology.subscriptions
  project              = var.project
  name                 = each.key
  topic                = google_pubsub_topic.topic[each.value.topic].id
  ack_deadline_seconds = each.value.ack_deadline_seconds

  retry_policy {
    minimum_backoff = each.value.minimum_backoff
    maximum_backoff = each.value.maximum_backoff
  }

  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.dead_letter[each.value.dead_letter_topic].id
    max_delivery_attempts = each.value.max_delivery_attempts
  }

  push_config {
    # The topic in the path becomes the CloudEvent source, as in the local stack (infra/local/provision.py).
    push_endpoint = "${google_cloudfunctions2_function.function[each.value.push_function].service_config[0].uri}/projects/${var.project}/topics/${each.value.topic}"

    oidc_token {
      service_account_email = google_service_account.pubsub_push.email
      audience              = google_cloudfunctions2_function.function[each.value.push_function].service_config[0].uri
    }
  }

  # Publishers for quiet platforms must not lose their subscription after 31 idle days.
  expiration_policy {
    ttl = ""
  }

  depends_on = [google_cloud_run_v2_service_iam_member.pubsub_push_invoker]
}

resource "google_cloud_scheduler_job" "schedule" {
  for_each  = module.topology.schedules
  project   = var.project
  region    = var.region
  name      = each.key
  schedule  = each.value.cron
  time_zone = each.value.time_zone

  pubsub_target {
    topic_name = google_pubsub_topic.topic[each.value.topic].id
    data       = each.value.data
  }

  depends_on = [google_project_service.required]
}

# Pub/Sub's service agent forwards undeliverable messages, so it must publish to the dead-letter
# topics and acknowledge on the source subscriptions.
resource "google_pubsub_topic_iam_member" "dead_letter_publisher" {
  for_each = module.topology.dead_letter_topics
  project  = var.project
  topic    = google_pubsub_topic.dead_letter[each.key].name
  role     = "roles/pubsub.publisher"
  member   = local.pubsub_service_agent

  depends_on = [google_project_service_identity.pubsub]
}

resource "google_pubsub_subscription_iam_member" "dead_letter_subscriber" {
  for_each     = module.topology.subscriptions
  project      = var.project
  subscription = google_pubsub_subscription.push[each.key].name
  role         = "roles/pubsub.subscriber"
  member       = local.pubsub_service_agent

  depends_on = [google_project_service_identity.pubsub]
}

# Mints the OIDC tokens of push requests (needed explicitly in projects made before April 2021).
resource "google_service_account_iam_member" "pubsub_push_token_creator" {
  service_account_id = google_service_account.pubsub_push.name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = local.pubsub_service_agent

  # The agent must exist before it can be named in a policy.
  depends_on = [google_project_service_identity.pubsub]
}
