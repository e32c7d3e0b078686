terraform {
  required_version = ">= 1.5"

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = ">= 6.0, < 8.0"
    }
    archive = {
      source  = "hashicorp/archive"
      version = "~> 2.4"
    }
  }

  # Partial configuration: `terraform init -backend-config="bucket=<state bucket>"` (see README).
  backend "gcs" {
    prefix = "postgate"
  }
}

provider "google" {
  project = var.project
  region  = var.region
}
