output "log_metrics" {
  description = "Log-based metric key -> display name, description, filter, labels (label -> jsonPayload field), value_field, unit."
  value       = local.log_metrics
}

output "metric_types" {
  description = "Log-based metric key -> its Cloud Monitoring metric type (logging.googleapis.com/user/<prefix>/<key>)."
  value       = local.metric_types
}

output "log_alerts" {
  description = "Alert policies on the log-based metrics: metric key -> display name, severity, group_by, documentation."
  value       = local.log_alerts
}

output "dead_letter_alerts" {
  description = "Dead-letter topic -> alert on its inspection subscription's undelivered messages."
  value       = local.dead_letter_alerts
}

output "dashboard_json" {
  description = "The Postgate dashboard (google_monitoring_dashboard.dashboard_json)."
  value       = jsonencode(local.dashboard)
}
