terraform {
  required_version = ">= 1.5"

  required_providers {
    # One major version: 7.x is the one every resource and argument here was checked against (its
    # google_storage_notification takes the topic as projects/<p>/topics/<t>, which google_pubsub_topic's id is).
    google = {
      source  = "hashicorp/google"
      version = "~> 7.0"
    }
    # Only for google_project_service_identity (pubsub.tf), which the GA provider does not have; same major.
    google-beta = {
      source  = "hashicorp/google-beta"
      version = "~> 7.0"
    }
    archive = {
      source  = "hashicorp/archive"
      version = "~> 2.4"
    }
    # time_sleep (functions.tf): new IAM grants settle before the first function build.
    time = {
      source  = "hashicorp/time"
      version = "~> 0.12"
    }
  }

  # Partial configuration: `terraform init -backend-config="bucket=<state bucket>"` (see docs/deploy.md#3-first-apply).
  backend "gcs" {
    prefix = "postgate"
  }
}

provider "google" {
  project = var.project
  region  = var.region
}

provider "google-beta" {
  project = var.project
  region  = var.region
}
