# Postgate on GCP. Everything that has a name in infra/topology.yaml is created from it through
# module.topology; this file and its siblings only say how each kind of thing is built.

data "google_project" "this" {
  project_id = var.project
}

module "topology" {
  source                  = "./modules/topology"
  topology_path           = local.topology_path
  project                 = var.project
  project_number          = data.google_project.this.number
  region                  = var.region
  memory_overrides        = var.memory_overrides
  max_instances_overrides = var.max_instances_overrides
  accounts                = var.accounts
  buffer_configs          = var.buffer_configs
}

locals {
  repo_root     = "${path.module}/../.."
  topology_path = "${path.module}/../topology.yaml"
  prefix        = module.topology.prefix

  # Google-managed identity that pushes messages and forwards them to dead-letter topics.
  pubsub_service_agent = "serviceAccount:service-${data.google_project.this.number}@gcp-sa-pubsub.iam.gserviceaccount.com"

  required_apis = [
    "artifactregistry.googleapis.com", # gen2 function images
    "bigquery.googleapis.com",
    "cloudbuild.googleapis.com", # builds function sources
    "cloudfunctions.googleapis.com",
    "cloudresourcemanager.googleapis.com",
    "cloudscheduler.googleapis.com",
    "firestore.googleapis.com",
    "iam.googleapis.com",
    "iamcredentials.googleapis.com", # signBlob for V4 signed URLs
    "logging.googleapis.com",
    "monitoring.googleapis.com", # alert policies, notification channels, the dashboard
    "pubsub.googleapis.com",
    "run.googleapis.com", # gen2 functions run on Cloud Run
    "secretmanager.googleapis.com",
    "storage.googleapis.com",
  ]
}

resource "google_project_service" "required" {
  for_each = toset(local.required_apis)
  project  = var.project
  service  = each.value
  # Other workloads in the project may use the same APIs.
  disable_on_destroy = false
}
