# One gen2 Cloud Function per entry in infra/topology.yaml's functions, each with its own service account.

locals {
  # shared/ goes into every zip; caches and any stray copy of the topology stay out.
  shared_files = {
    for file in fileset("${local.repo_root}/shared", "**") :
    "shared/${file}" => "${local.repo_root}/shared/${file}"
    if !strcontains(file, "__pycache__") && !endswith(file, ".pyc") && file != "topology.yaml"
  }

  source_files = {
    for key, dir in module.topology.sources : key => merge(
      local.shared_files,
      {
        for file in fileset("${local.repo_root}/${dir}", "**") :
        file => "${local.repo_root}/${dir}/${file}"
        if !strcontains(file, "__pycache__") && !endswith(file, ".pyc")
      },
      { "requirements.txt" = "${local.repo_root}/requirements.txt" },
    )
  }

  # Every function reads the same configuration (shared/runtime/config.py); these are the values
  # that only the deployment knows. var.function_environment adds the optional ones.
  function_environment = {
    GOOGLE_CLOUD_PROJECT       = var.project
    POSTGATE_MEDIA_BUCKET      = module.topology.buckets["media"].bucket_name
    POSTGATE_APPROVAL_BASE_URL = module.topology.approval_url
    POSTGATE_API_BASE_URL      = module.topology.api_url
    POSTGATE_SECRET_BACKEND    = "secret-manager"
    # Sign in with Google on the console (shared/console): ID tokens must be issued to this client.
    POSTGATE_CONSOLE_OAUTH_CLIENT_ID = var.console_oauth_client_id
  }
}

data "archive_file" "function_source" {
  for_each    = module.topology.sources
  type        = "zip"
  output_path = "${path.module}/.build/${each.key}.zip"

  # main.py at the root of the zip, next to the shared package it imports. file() reads text only,
  # which is all a function source holds.
  dynamic "source" {
    for_each = local.source_files[each.key]
    content {
      filename = source.key
      content  = file(source.value)
    }
  }

  # Deployed functions have no infra/; shared/topology.py falls back to this copy.
  source {
    filename = "shared/topology.yaml"
    content  = file(local.topology_path)
  }
}

resource "google_storage_bucket" "function_sources" {
  #checkov:skip=CKV_GCP_62:Only Terraform writes here and Cloud Build reads; Cloud Audit Logs record both.
  #checkov:skip=CKV_GCP_78:Objects are named by content hash and never overwritten, so versions add nothing.
  project                     = var.project
  name                        = "${var.project}-${local.prefix}-function-sources"
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"

  depends_on = [google_project_service.required]
}

# Named by content hash, so a change to the code is a new object and redeploys the function.
resource "google_storage_bucket_object" "function_source" {
  for_each = module.topology.sources
  name     = "${each.key}-${data.archive_file.function_source[each.key].output_md5}.zip"
  bucket   = google_storage_bucket.function_sources.name
  source   = data.archive_file.function_source[each.key].output_path
}

resource "google_service_account" "function" {
  for_each     = module.topology.functions
  project      = var.project
  account_id   = each.value.service_account_id
  display_name = "Postgate function ${each.key}"

  # On a fresh project the IAM API must be on before an account can be created.
  depends_on = [google_project_service.required]
}

# Builds the function images, so the functions' own accounts need no build rights.
resource "google_service_account" "function_builder" {
  project      = var.project
  account_id   = "${local.prefix}-function-builder"
  display_name = "Postgate function builds"

  depends_on = [google_project_service.required]
}

# What a gen2 build does: write its logs, push the image and read the source. Cloud Functions copies
# the source zip into its own bucket, gcf-v2-sources-<project number>-<region>, created on the first
# deploy, and the build fetches it there; so object read is granted on the project, as in the provider's
# cloudfunctions2 "basic builder" example (a grant on function_sources alone ends in "Access to bucket
# gcf-v2-sources-... denied", terraform-provider-google#20571). Object Viewer is what that error asks for.
resource "google_project_iam_member" "function_builder" {
  for_each = toset(["roles/logging.logWriter", "roles/artifactregistry.writer", "roles/storage.objectViewer"])
  project  = var.project
  role     = each.value
  member   = "serviceAccount:${google_service_account.function_builder.email}"
}

# New grants take a while to reach every IAM check; the first build starts only after this wait (the
# provider's builder example waits 60 s, its gen1 build-account test doubled that to stop flakes).
resource "time_sleep" "function_builder_iam" {
  create_duration = "120s"

  depends_on = [google_project_iam_member.function_builder]
}

resource "google_cloudfunctions2_function" "function" {
  #checkov:skip=CKV_GCP_124:Only HTTP functions allow all ingress (browsers open approval links); Pub/Sub-fed ones are internal-only.
  for_each    = module.topology.functions
  project     = var.project
  location    = var.region
  name        = each.key
  description = "Postgate ${each.key} (infra/topology.yaml)"

  build_config {
    runtime         = "python311"
    entry_point     = each.value.entry_point
    service_account = google_service_account.function_builder.id

    source {
      storage_source {
        bucket = google_storage_bucket.function_sources.name
        object = google_storage_bucket_object.function_source[each.value.source_key].name
      }
    }
  }

  # Pub/Sub-fed functions have no event_trigger: google_pubsub_subscription.push delivers to them
  # with the retry and dead-letter settings the topology declares, which Eventarc cannot express.
  service_config {
    available_memory                 = each.value.memory
    max_instance_count               = each.value.max_instances
    timeout_seconds                  = each.value.timeout_seconds
    max_instance_request_concurrency = each.value.concurrency
    available_cpu                    = each.value.cpu
    ingress_settings                 = each.value.ingress
    service_account_email            = google_service_account.function[each.key].email
    all_traffic_on_latest_revision   = true
    environment_variables            = merge(var.function_environment, local.function_environment, each.value.environment)
  }

  depends_on = [
    google_project_service.required,
    time_sleep.function_builder_iam,
  ]
}

resource "google_cloud_run_v2_service_iam_member" "pubsub_push_invoker" {
  for_each = module.topology.subscriptions
  project  = var.project
  location = var.region
  name     = google_cloudfunctions2_function.function[each.value.push_function].name
  role     = "roles/run.invoker"
  member   = "serviceAccount:${google_service_account.pubsub_push.email}"
}

# Functions marked public in the topology (approval-http, api) are guarded by their own tokens (signed
# single-use approval links, bearer tokens); a person's browser opening a link carries no Google identity.
# var.public_access says how Cloud Run lets such a request through.
locals {
  # "all_users": roles/run.invoker for allUsers, refused where Domain Restricted Sharing is enforced.
  all_users_invoker_functions = var.public_access == "all_users" ? module.topology.public_functions : {}
  # "invoker_iam_disabled": Cloud Run skips its invoker IAM check on the function's service; no binding.
  invoker_iam_disabled_functions = var.public_access == "invoker_iam_disabled" ? module.topology.public_functions : {}
}

resource "google_cloud_run_v2_service_iam_member" "public_invoker" {
  for_each = local.all_users_invoker_functions
  project  = var.project
  location = var.region
  name     = google_cloudfunctions2_function.function[each.key].name
  role     = "roles/run.invoker"
  member   = "allUsers"
}

# The Cloud Functions API has no invoker IAM switch (terraform-provider-google#23360); the Cloud Run service
# behind a gen2 function has one (invokerIamDisabled: `gcloud run services update --no-invoker-iam-check`).
# gcloud must be on PATH where Terraform runs (cloudbuild.yaml runs Terraform in the gcloud image). It is set
# again whenever the function changes, since Cloud Functions then redeploys that service, and the check is
# turned back on when a function stops being public or the mode changes.
resource "terraform_data" "invoker_iam_check_disabled" {
  for_each = local.invoker_iam_disabled_functions

  input = {
    service = google_cloudfunctions2_function.function[each.key].name
    project = var.project
    region  = var.region
  }
  triggers_replace = [google_cloudfunctions2_function.function[each.key].update_time]

  provisioner "local-exec" {
    command = "gcloud run services update ${self.input.service} --project=${self.input.project} --region=${self.input.region} --no-invoker-iam-check --quiet"
  }

  provisioner "local-exec" {
    when    = destroy
    command = "gcloud run services update ${self.input.service} --project=${self.input.project} --region=${self.input.region} --invoker-iam-check --quiet"
  }
}

resource "google_cloud_run_v2_service_iam_member" "http_invoker" {
  for_each = {
    for pair in setproduct(module.topology.private_http_functions, var.http_invokers) :
    "${pair[0]}/${pair[1]}" => { function = pair[0], member = pair[1] }
  }
  project  = var.project
  location = var.region
  name     = google_cloudfunctions2_function.function[each.value.function].name
  role     = "roles/run.invoker"
  member   = each.value.member
}
