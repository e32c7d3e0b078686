# Expands infra/topology.yaml into the maps the root module's resources iterate over.
# It has no providers, so `terraform console` evaluates it offline (tests/test_terraform.py does).

locals {
  topology = yamldecode(file(var.topology_path))
  prefix   = local.topology.project_prefix
  dl       = local.topology.dead_letter

  # access levels -> roles. Anything not listed here is never granted to a function.
  firestore_roles = {
    read  = "roles/datastore.viewer"
    write = "roles/datastore.user"
  }
  # "write" also reads: generate looks up uploaded media before it writes its own.
  storage_roles = {
    read  = "roles/storage.objectViewer"
    write = "roles/storage.objectUser"
  }
  # "rotate" writes refreshed tokens back as new versions.
  secret_prefix_roles = {
    read   = ["roles/secretmanager.secretAccessor"]
    rotate = ["roles/secretmanager.secretAccessor", "roles/secretmanager.secretVersionAdder"]
  }

  functions = {
    for name, fn in local.topology.functions : name => {
      name               = name
      source_key         = basename(fn.source)
      entry_point        = fn.entry_point
      trigger_type       = fn.trigger.type
      trigger_topic      = try(fn.trigger.topic, null)
      public             = try(fn.trigger.public, false)
      memory             = lookup(var.memory_overrides, name, fn.memory)
      max_instances      = lookup(var.max_instances_overrides, name, fn.max_instances)
      timeout_seconds    = fn.timeout_seconds
      service_account_id = "${local.prefix}-${name}"
      # Pub/Sub pushes count as internal traffic, so only HTTP functions are reachable from outside.
      ingress = fn.trigger.type == "http" ? "ALLOW_ALL" : "ALLOW_INTERNAL_ONLY"
      # Requests an instance serves at once; functions-framework runs as many request threads (THREADS).
      concurrency = try(fn.concurrency, 1)
      cpu         = try(fn.cpu, null)
      environment = { for k, v in { THREADS = tostring(try(fn.concurrency, 1)) } : k => v if try(fn.concurrency, 1) > 1 }
    }
  }

  # One zip per source folder; functions sharing a folder (generate, generate-http) share it.
  sources = { for fn in local.topology.functions : basename(fn.source) => fn.source... }

  topics = {
    for name, topic in local.topology.topics : name => {
      name              = name
      dead_letter_topic = "${name}${local.dl.suffix}"
    }
  }

  dead_letter_topics = {
    for name in keys(local.topology.topics) : "${name}${local.dl.suffix}" => {
      name                    = "${name}${local.dl.suffix}"
      source_topic            = name
      inspection_subscription = "${name}${local.dl.suffix}${local.dl.inspection_subscription_suffix}"
      message_retention       = "${local.dl.message_retention_seconds}s"
    }
  }

  subscriptions = {
    for name, sub in local.topology.subscriptions : name => {
      name                  = name
      topic                 = sub.topic
      push_function         = sub.push_function
      ack_deadline_seconds  = sub.ack_deadline_seconds
      minimum_backoff       = "${sub.retry_policy.minimum_backoff_seconds}s"
      maximum_backoff       = "${sub.retry_policy.maximum_backoff_seconds}s"
      max_delivery_attempts = sub.max_delivery_attempts
      dead_letter_topic     = "${sub.topic}${local.dl.suffix}"
    }
  }

  schedules = {
    for name, schedule in local.topology.schedules : name => {
      name      = name
      cron      = schedule.cron
      time_zone = schedule.time_zone
      topic     = schedule.topic
      data      = base64encode(jsonencode(schedule.payload))
    }
  }

  tables = {
    for name, table in local.topology.bigquery.tables : name => {
      name            = name
      description     = try(table.description, "")
      partition_field = table.partition_field
      clustering      = try(table.clustering, [])
      schema = jsonencode([
        for column in table.schema : {
          name = column.name
          type = column.type
          mode = try(column.mode, "NULLABLE")
        }
      ])
    }
  }

  buckets = {
    for name, bucket in local.topology.storage.buckets : name => {
      name              = name
      bucket_name       = "${var.project}-${name}"
      location          = bucket.location
      delete_after_days = bucket.delete_after_days
      # browser_uploads: the console's pages PUT files to V4 signed URLs of this bucket, so the browser
      # may send them from the console's origin (and only the signed headers the composer sends).
      cors = try(bucket.browser_uploads, false) ? [{
        origin          = [local.console_origin]
        method          = ["PUT"]
        response_header = ["Content-Type", "x-goog-content-length-range"]
        max_age_seconds = 3600
      }] : []
    }
  }

  # Where the console's pages are served from: the scheme and host of console_url.
  console_origin = "https://${var.region}-${var.project}.cloudfunctions.net"

  platforms = compact([for topic in local.topology.topics : try(topic.platform, "")])

  secrets = toset(concat(
    try(local.topology.secrets, []),
    [for account in var.accounts : "${account.platform}-account-${account.account_id}"],
    [for id in var.buffer_configs : "buffer-config-${id}"],
  ))

  firestore_indexes = {
    for index in try(local.topology.firestore.indexes, []) :
    "${index.collection}:${join(",", index.fields)}" => {
      collection = index.collection
      fields     = index.fields
    }
  }

  firestore_ttl = {
    for ttl in try(local.topology.firestore.ttl, []) :
    "${ttl.collection}:${ttl.field}" => { collection = ttl.collection, field = ttl.field }
  }

  # Every role a function's service account gets, derived from its access block and nothing else.
  # kind says where the binding lives: project, bucket, topic, secret, table or service_account.
  grants = merge(flatten([
    for name, fn in local.topology.functions : [
      try(fn.access.firestore, null) == null ? {} : {
        "${name}/project/firestore" = {
          function        = name, kind = "project", resource = var.project
          role            = local.firestore_roles[fn.access.firestore]
          condition_title = null, condition_expression = null
        }
      },
      {
        for bucket, level in try(fn.access.storage, {}) : "${name}/bucket/${bucket}" => {
          function        = name, kind = "bucket", resource = bucket
          role            = local.storage_roles[level]
          condition_title = null, condition_expression = null
        }
      },
      {
        for topic in try(fn.access.publishes, []) : "${name}/topic/${topic}" => {
          function        = name, kind = "topic", resource = topic
          role            = "roles/pubsub.publisher"
          condition_title = null, condition_expression = null
        }
      },
      {
        for secret in try(fn.access.secrets, []) : "${name}/secret/${secret}" => {
          function        = name, kind = "secret", resource = secret
          role            = "roles/secretmanager.secretAccessor"
          condition_title = null, condition_expression = null
        }
      },
      # Account secrets come and go with connected accounts, so they are granted by name prefix.
      {
        for pair in flatten([
          for prefix, level in try(fn.access.secret_prefixes, {}) : [
            for role in local.secret_prefix_roles[level] : { prefix = prefix, role = role }
          ]
          ]) : "${name}/secret-prefix/${pair.prefix}/${pair.role}" => {
          function             = name, kind = "project", resource = var.project
          role                 = pair.role
          condition_title      = "secrets ${pair.prefix}*"
          condition_expression = "resource.name.startsWith(\"projects/${var.project_number}/secrets/${pair.prefix}\")"
        }
      },
      {
        for table in try(fn.access.bigquery_tables, []) : "${name}/table/${table}" => {
          function        = name, kind = "table", resource = table
          role            = "roles/bigquery.dataEditor"
          condition_title = null, condition_expression = null
        }
      },
      {
        for table in try(fn.access.bigquery_reads, []) : "${name}/table-read/${table}" => {
          function        = name, kind = "table", resource = table
          role            = "roles/bigquery.dataViewer"
          condition_title = null, condition_expression = null
        }
      },
      # MERGE, load jobs and queries run as jobs: creating one needs a project-level role.
      length(concat(try(fn.access.bigquery_tables, []), try(fn.access.bigquery_reads, []))) == 0 ? {} : {
        "${name}/project/bigquery-jobs" = {
          function        = name, kind = "project", resource = var.project
          role            = "roles/bigquery.jobUser"
          condition_title = null, condition_expression = null
        }
      },
      # V4 signed URLs without a key file are signed through IAM signBlob as the function itself.
      try(fn.access.sign_urls, false) ? {
        "${name}/service_account/self" = {
          function        = name, kind = "service_account", resource = name
          role            = "roles/iam.serviceAccountTokenCreator"
          condition_title = null, condition_expression = null
        }
      } : {},
    ]
  ])...)

  grant_kinds = ["project", "bucket", "topic", "secret", "table", "service_account"]
}
