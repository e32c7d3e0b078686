# Production failures reach a person: log-based metrics for the events Postgate logs (modules/monitoring
# says which, from the code's exact messages), alert policies on them and on every dead-letter topic's
# inspection subscription, the notification channels they go to, and one dashboard. docs/runbook.md.

module "monitoring" {
  source             = "./modules/monitoring"
  prefix             = module.topology.prefix
  dead_letter_topics = module.topology.dead_letter_topics
  function_names     = keys(module.topology.functions)
}

resource "google_logging_metric" "postgate" {
  for_each        = module.monitoring.log_metrics
  project         = var.project
  name            = "${local.prefix}/${each.key}"
  description     = each.value.description
  filter          = each.value.filter
  value_extractor = each.value.value_field == null ? null : "EXTRACT(${each.value.value_field})"
  label_extractors = {
    for label, field in each.value.labels : label => "EXTRACT(${field})"
  }

  metric_descriptor {
    metric_kind  = "DELTA"
    value_type   = each.value.value_field == null ? "INT64" : "DISTRIBUTION"
    unit         = each.value.unit
    display_name = each.value.display_name

    dynamic "labels" {
      for_each = each.value.labels
      content {
        key         = labels.key
        value_type  = "STRING"
        description = "From ${labels.value}."
      }
    }
  }

  # Distribution metrics (latency): buckets of 1 min, 2 min, 4 min, ... up to about a year.
  dynamic "bucket_options" {
    for_each = each.value.value_field == null ? [] : [each.key]
    content {
      exponential_buckets {
        num_finite_buckets = 20
        growth_factor      = 2
        scale              = 60
      }
    }
  }

  depends_on = [google_project_service.required]
}

# A new log-based metric takes minutes to become visible to Cloud Monitoring: an alert policy created at once
# is refused ("Cannot find metric(s) that match type ... could take up to 10 minutes", provider issue 11102).
# Waits again whenever a metric is added (triggers), never on later applies.
resource "time_sleep" "log_metrics_visible" {
  create_duration = "300s"
  triggers = {
    metrics = join(",", sort([for metric in google_logging_metric.postgate : metric.name]))
  }
}

# --- where alerts go ------------------------------------------------------------------------------------

resource "google_monitoring_notification_channel" "email" {
  for_each     = toset(var.alert_emails)
  project      = var.project
  display_name = "Postgate on-call: ${each.value}"
  type         = "email"
  labels = {
    email_address = each.value
  }

  depends_on = [google_project_service.required]
}

resource "google_monitoring_notification_channel" "slack" {
  count        = var.alert_slack_channel == "" ? 0 : 1
  project      = var.project
  display_name = "Postgate on-call: Slack ${var.alert_slack_channel}"
  type         = "slack"
  labels = {
    channel_name = var.alert_slack_channel
  }
  sensitive_labels {
    auth_token = var.alert_slack_auth_token
  }

  lifecycle {
    precondition {
      condition     = var.alert_slack_auth_token != null
      error_message = "alert_slack_channel needs alert_slack_auth_token (the Slack app's OAuth token), or use alert_notification_channels."
    }
  }

  depends_on = [google_project_service.required]
}

locals {
  # Every alert policy notifies all of these.
  notification_channels = concat(
    [for channel in google_monitoring_notification_channel.email : channel.id],
    [for channel in google_monitoring_notification_channel.slack : channel.id],
    var.alert_notification_channels,
  )
}

# --- alert policies --------------------------------------------------------------------------------------

# Any matching log line within 5 minutes opens an incident (one per group, e.g. per platform and fail class).
resource "google_monitoring_alert_policy" "log_event" {
  for_each              = module.monitoring.log_alerts
  project               = var.project
  display_name          = each.value.display_name
  combiner              = "OR"
  severity              = each.value.severity
  notification_channels = local.notification_channels

  conditions {
    display_name = each.value.display_name
    condition_threshold {
      filter                  = "metric.type=\"logging.googleapis.com/user/${google_logging_metric.postgate[each.key].name}\" AND resource.type=\"cloud_run_revision\""
      comparison              = "COMPARISON_GT"
      threshold_value         = 0
      duration                = "0s"
      evaluation_missing_data = "EVALUATION_MISSING_DATA_INACTIVE"

      aggregations {
        alignment_period     = "300s"
        per_series_aligner   = "ALIGN_SUM"
        cross_series_reducer = "REDUCE_SUM"
        group_by_fields      = each.value.group_by
      }

      trigger {
        count = 1
      }
    }
  }

  alert_strategy {
    auto_close = "86400s"
  }

  depends_on = [time_sleep.log_metrics_visible]

  documentation {
    content   = each.value.documentation
    mime_type = "text/markdown"
  }
}

# Every dead-letter topic of the topology: a message waiting in its "-inspect" subscription opens an incident,
# which stays open until the messages are handled (acked).
resource "google_monitoring_alert_policy" "dead_letter" {
  for_each              = module.monitoring.dead_letter_alerts
  project               = var.project
  display_name          = each.value.display_name
  combiner              = "OR"
  severity              = "ERROR"
  notification_channels = local.notification_channels

  conditions {
    display_name = "undelivered messages in ${each.value.subscription}"
    condition_threshold {
      filter                  = "metric.type=\"pubsub.googleapis.com/subscription/num_undelivered_messages\" AND resource.type=\"pubsub_subscription\" AND resource.label.subscription_id=\"${google_pubsub_subscription.dead_letter_inspection[each.key].name}\""
      comparison              = "COMPARISON_GT"
      threshold_value         = 0
      duration                = "0s"
      evaluation_missing_data = "EVALUATION_MISSING_DATA_INACTIVE"

      aggregations {
        alignment_period   = "300s"
        per_series_aligner = "ALIGN_MAX"
      }

      trigger {
        count = 1
      }
    }
  }

  documentation {
    content   = each.value.documentation
    mime_type = "text/markdown"
  }

  depends_on = [google_project_service.required]
}

# --- dashboard -------------------------------------------------------------------------------------------

resource "google_monitoring_dashboard" "postgate" {
  project        = var.project
  dashboard_json = module.monitoring.dashboard_json

  # Its charts name the log-based metrics by type.
  depends_on = [google_logging_metric.postgate]
}
