output "approval_url" {
  description = "Base URL of the approval links (the public approval function); also set as POSTGATE_APPROVAL_BASE_URL."
  value       = module.topology.approval_url
}

output "api_url" {
  description = "Base URL of the content API (POSTGATE_API_URL for the postgate CLI); register <api_url>/accounts/oauth/callback as each platform app's redirect URI."
  value       = module.topology.api_url
}

output "console_url" {
  description = "The console (docs/console.md); its scheme and host are the Authorized JavaScript origin of console_oauth_client_id."
  value       = module.topology.console_url
}

output "function_urls" {
  description = "Function name -> Cloud Run URL."
  value       = { for name, fn in google_cloudfunctions2_function.function : name => fn.service_config[0].uri }
}

output "topic_names" {
  description = "Pub/Sub topics from infra/topology.yaml."
  value       = sort([for topic in google_pubsub_topic.topic : topic.name])
}

output "dead_letter_topic_names" {
  value = sort([for topic in google_pubsub_topic.dead_letter : topic.name])
}

output "bucket_names" {
  description = "Topology bucket name -> Cloud Storage bucket."
  value       = { for name, bucket in google_storage_bucket.topology : name => bucket.name }
}

output "secret_ids" {
  description = "Secrets to add versions to (values are never managed by Terraform)."
  value       = sort([for secret in google_secret_manager_secret.secret : secret.secret_id])
}

output "function_service_accounts" {
  value = { for name, sa in google_service_account.function : name => sa.email }
}
