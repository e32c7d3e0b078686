# What production alerting and the dashboard watch, derived from the topology and from the log lines the
# code writes. It has no providers, so `terraform console` evaluates it offline (tests/test_monitoring.py
# does); infra/terraform/monitoring.tf turns it into google_logging_metric, alert policies and a dashboard.
#
# The log lines: shared/runtime/logging.py prints one JSON object per line. Gen2 functions run on Cloud Run,
# so each line becomes a log entry of resource.type "cloud_run_revision" whose `severity` is the line's and
# whose jsonPayload holds everything else: `message` (the event), the log context (platform, post_id,
# correlation_id, account_id where set) and the event's own fields (fail_class, reason, ...).

locals {
  run_logs = "resource.type=\"cloud_run_revision\""

  # One entry per log-based metric: the filter names the exact message the code logs (log_event(...)).
  # labels: label -> jsonPayload field it is extracted from. value_field: set for a distribution metric.
  log_metrics = {
    post_failed = {
      display_name = "Postgate: posts failed"
      description  = "ERROR \"post failed\" (shared/publishing/publisher.py, status_poll.py), except fail_class unconfirmed (post_unconfirmed counts those)."
      filter       = "${local.run_logs} AND severity=ERROR AND jsonPayload.message=\"post failed\" AND NOT jsonPayload.fail_class=\"unconfirmed\""
      labels       = { platform = "jsonPayload.platform", fail_class = "jsonPayload.fail_class" }
      value_field  = null
      unit         = "1"
    }
    post_unconfirmed = {
      display_name = "Postgate: posts failed unconfirmed"
      description  = "ERROR \"post failed\" with fail_class unconfirmed (shared/publishing/status_poll.py _give_up): a create whose outcome stayed unknown and was not found on the platform by the deadline."
      filter       = "${local.run_logs} AND severity=ERROR AND jsonPayload.message=\"post failed\" AND jsonPayload.fail_class=\"unconfirmed\""
      labels       = { platform = "jsonPayload.platform", account_id = "jsonPayload.account_id" }
      value_field  = null
      unit         = "1"
    }
    account_needs_reconnect = {
      display_name = "Postgate: accounts needing reconnection"
      description  = "ERROR \"account needs reconnecting\" (shared/platforms/credentials.py mark_needs_reconnect)."
      filter       = "${local.run_logs} AND severity=ERROR AND jsonPayload.message=\"account needs reconnecting\""
      labels       = { platform = "jsonPayload.platform", account_id = "jsonPayload.account_id" }
      value_field  = null
      unit         = "1"
    }
    post_published = {
      display_name = "Postgate: posts published"
      description  = "INFO \"post published\" (shared/publishing/publisher.py on create, status_poll.py once confirmed)."
      filter       = "${local.run_logs} AND severity=INFO AND jsonPayload.message=\"post published\""
      labels       = { platform = "jsonPayload.platform" }
      value_field  = null
      unit         = "1"
    }
    # Empty until "post published" carries approval_to_publish_seconds (see docs/runbook.md#dashboard).
    publish_latency = {
      display_name = "Postgate: approval to publish latency"
      description  = "approval_to_publish_seconds of INFO \"post published\": from the post's approval to the platform confirming it."
      filter       = "${local.run_logs} AND severity=INFO AND jsonPayload.message=\"post published\" AND jsonPayload.approval_to_publish_seconds:*"
      labels       = { platform = "jsonPayload.platform" }
      value_field  = "jsonPayload.approval_to_publish_seconds"
      unit         = "s"
    }
    # YouTube's daily units ran out: ours (shared/platforms/youtube/quota.py, "youtube quota: ...") or Google's
    # (client.py: quotaExceeded / dailyLimitExceeded); the publisher releases the post and the poll waits.
    youtube_quota_exhausted = {
      display_name = "Postgate: YouTube quota exhausted"
      description  = "WARNING \"publish attempt released for retry\" / \"status check failed; will check again\" on YouTube whose reason or error says the daily quota is used up."
      filter       = "${local.run_logs} AND severity=WARNING AND jsonPayload.platform=\"youtube\" AND ((jsonPayload.message=\"publish attempt released for retry\" AND jsonPayload.reason=~\"youtube quota:|quotaExceeded|dailyLimitExceeded\") OR (jsonPayload.message=\"status check failed; will check again\" AND jsonPayload.error=~\"youtube quota:|quotaExceeded|dailyLimitExceeded\"))"
      labels       = {}
      value_field  = null
      unit         = "1"
    }
  }

  metric_types = { for key, metric in local.log_metrics : key => "logging.googleapis.com/user/${var.prefix}/${key}" }

  alerts_docs = "Docs (in the repository):"

  # Alert policies on the log-based metrics: any matching line in 5 minutes opens an incident per group.
  log_alerts = {
    post_failed = {
      display_name = "Postgate: a post failed"
      severity     = "ERROR"
      group_by     = ["metric.label.platform", "metric.label.fail_class"]
      documentation = join("\n", [
        "A post on $${metric.label.platform} ended `failed` (fail_class `$${metric.label.fail_class}`): it will not be published unless someone acts.",
        "Check: Logs Explorer, `jsonPayload.message=\"post failed\"` for the post_id, reason and correlation_id; `postgate posts show <post_id>`. auth: reconnect the account; media_changed / approval: the content needs approving again; platform / ValidationError: the platform refused the post as it is.",
        "${local.alerts_docs} docs/runbook.md#a-post-failed, docs/design.md#unknown-outcomes-and-every-post-reaching-a-final-state",
      ])
    }
    post_unconfirmed = {
      display_name = "Postgate: a post could not be confirmed"
      severity     = "CRITICAL"
      group_by     = ["metric.label.platform", "metric.label.account_id"]
      documentation = join("\n", [
        "A post on $${metric.label.platform} (account $${metric.label.account_id}) may be live or not: its create call's outcome was unknown and the status poll did not find it on the platform by the deadline.",
        "Check the account on the platform for this post BEFORE publishing it again (a second publish may double it). Logs Explorer: `jsonPayload.message=\"post failed\" AND jsonPayload.fail_class=\"unconfirmed\"` gives the post_id and the platform ids.",
        "${local.alerts_docs} docs/runbook.md#a-post-could-not-be-confirmed, docs/design.md#unknown-outcomes-and-every-post-reaching-a-final-state",
      ])
    }
    account_needs_reconnect = {
      display_name = "Postgate: an account needs reconnecting"
      severity     = "ERROR"
      group_by     = ["metric.label.account_id"]
      documentation = join("\n", [
        "Account $${metric.label.account_id} ($${metric.label.platform}) is marked `needs_reconnect`: the platform refused its token. Its posts fail (fail_class auth) until it is connected again.",
        "Check: the reason in Logs Explorer (`jsonPayload.message=\"account needs reconnecting\"`), then `postgate accounts connect <account_id>` signed in as the brand account, and `postgate accounts test <account_id>`.",
        "${local.alerts_docs} docs/runbook.md#an-account-needs-reconnecting, docs/deploy.md#4-connecting-a-platform-account",
      ])
    }
    youtube_quota_exhausted = {
      display_name = "Postgate: YouTube quota exhausted"
      severity     = "WARNING"
      group_by     = []
      documentation = join("\n", [
        "YouTube's daily API units are used up: YouTube posts wait in `queued` and status checks wait until midnight Pacific Time, when the quota resets. Nothing is lost.",
        "Check: the `YouTube quota used` dashboard chart and the Firestore document `youtube_quota/<quota key>--<Pacific day>`; the `insert` bucket allows POSTGATE_YOUTUBE_DAILY_UPLOADS videos.insert calls a day (100 by default), the `general` one POSTGATE_YOUTUBE_DAILY_QUOTA units (videos.update costs 50); if it happens often, ask Google for more quota in the bucket that ran out and raise the matching setting.",
        "${local.alerts_docs} docs/runbook.md#youtube-quota-exhausted",
      ])
    }
  }

  # One alert per dead-letter topic of the topology, on its inspection subscription's backlog.
  dead_letter_alerts = {
    for name, dl in var.dead_letter_topics : name => {
      display_name = "Postgate: messages dead-lettered from ${dl.source_topic}"
      subscription = dl.inspection_subscription
      documentation = join("\n", [
        "Messages of topic `${dl.source_topic}` ran out of delivery attempts and wait in `${dl.inspection_subscription}`: the function behind `${dl.source_topic}` kept failing on them.",
        "Check: `gcloud pubsub subscriptions pull ${dl.inspection_subscription} --limit=10` (without --auto-ack) for the messages, and the function's ERROR lines in Logs Explorer around the time they arrived. Ack them once handled; the alert closes when the subscription is empty.",
        "${local.alerts_docs} docs/runbook.md#messages-dead-lettered, docs/deploy.md#5-cloud-build-keeps-it-current",
      ])
    }
  }

  inspection_subscriptions = sort([for dl in var.dead_letter_topics : dl.inspection_subscription])

  quoted_functions = join(", ", [for name in sort(var.function_names) : "\"${name}\""])
  quoted_dead      = join(", ", [for name in local.inspection_subscriptions : "\"${name}\""])

  # Dashboard: five charts, each a mosaic tile 24 columns wide.
  widgets = [
    {
      title = "Posts by final state per platform per day"
      xyChart = {
        dataSets = [
          for state, metric in { published = "post_published", failed = "post_failed", "failed unconfirmed" = "post_unconfirmed" } : {
            plotType                       = "STACKED_BAR"
            legendTemplate                 = "${state} $${metric.labels.platform}"
            timeSeriesQuery = {
              timeSeriesFilter = {
                filter = "metric.type=\"${local.metric_types[metric]}\" AND resource.type=\"cloud_run_revision\""
                aggregation = {
                  alignmentPeriod    = "86400s"
                  perSeriesAligner   = "ALIGN_SUM"
                  crossSeriesReducer = "REDUCE_SUM"
                  groupByFields      = ["metric.label.platform"]
                }
              }
            }
          }
        ]
        yAxis = { label = "posts", scale = "LINEAR" }
      }
    },
    {
      title = "Publish latency, approval to confirmed"
      xyChart = {
        dataSets = [
          for percentile in ["50", "95"] : {
            plotType       = "LINE"
            legendTemplate = "p${percentile} $${metric.labels.platform}"
            timeSeriesQuery = {
              timeSeriesFilter = {
                filter = "metric.type=\"${local.metric_types.publish_latency}\" AND resource.type=\"cloud_run_revision\""
                aggregation = {
                  alignmentPeriod    = "3600s"
                  perSeriesAligner   = "ALIGN_DELTA"
                  crossSeriesReducer = "REDUCE_PERCENTILE_${percentile}"
                  groupByFields      = ["metric.label.platform"]
                }
              }
            }
          }
        ]
        yAxis = { label = "seconds", scale = "LINEAR" }
      }
    },
    {
      title = "Dead-letter depth"
      xyChart = {
        dataSets = [{
          plotType       = "LINE"
          legendTemplate = "$${resource.labels.subscription_id}"
          timeSeriesQuery = {
            timeSeriesFilter = {
              filter = "metric.type=\"pubsub.googleapis.com/subscription/num_undelivered_messages\" AND resource.type=\"pubsub_subscription\" AND resource.label.subscription_id=one_of(${local.quoted_dead})"
              aggregation = {
                alignmentPeriod    = "300s"
                perSeriesAligner   = "ALIGN_MAX"
                crossSeriesReducer = "REDUCE_SUM"
                groupByFields      = ["resource.label.subscription_id"]
              }
            }
          }
        }]
        yAxis = { label = "messages", scale = "LINEAR" }
      }
    },
    {
      title = "Function errors"
      xyChart = {
        dataSets = [
          {
            plotType       = "STACKED_BAR"
            legendTemplate = "5xx $${resource.labels.service_name}"
            timeSeriesQuery = {
              timeSeriesFilter = {
                filter = "metric.type=\"run.googleapis.com/request_count\" AND resource.type=\"cloud_run_revision\" AND metric.label.response_code_class=\"5xx\" AND resource.label.service_name=one_of(${local.quoted_functions})"
                aggregation = {
                  alignmentPeriod    = "300s"
                  perSeriesAligner   = "ALIGN_DELTA"
                  crossSeriesReducer = "REDUCE_SUM"
                  groupByFields      = ["resource.label.service_name"]
                }
              }
            }
          },
          {
            plotType       = "STACKED_BAR"
            legendTemplate = "ERROR lines $${resource.labels.service_name}"
            timeSeriesQuery = {
              timeSeriesFilter = {
                filter = "metric.type=\"logging.googleapis.com/log_entry_count\" AND resource.type=\"cloud_run_revision\" AND metric.label.severity=\"ERROR\" AND resource.label.service_name=one_of(${local.quoted_functions})"
                aggregation = {
                  alignmentPeriod    = "300s"
                  perSeriesAligner   = "ALIGN_DELTA"
                  crossSeriesReducer = "REDUCE_SUM"
                  groupByFields      = ["resource.label.service_name"]
                }
              }
            }
          },
        ]
        yAxis = { label = "per 5 minutes", scale = "LINEAR" }
      }
    },
    {
      # Google counts units in the project of the OAuth client that calls YouTube (docs/runbook.md#dashboard).
      title = "YouTube quota used"
      xyChart = {
        dataSets = [
          {
            plotType       = "STACKED_BAR"
            legendTemplate = "units $${metric.labels.quota_metric}"
            timeSeriesQuery = {
              timeSeriesFilter = {
                filter = "metric.type=\"serviceruntime.googleapis.com/quota/rate/net_usage\" AND resource.type=\"consumer_quota\" AND resource.label.service=\"youtube.googleapis.com\""
                aggregation = {
                  alignmentPeriod    = "3600s"
                  perSeriesAligner   = "ALIGN_DELTA"
                  crossSeriesReducer = "REDUCE_SUM"
                  groupByFields      = ["metric.label.quota_metric"]
                }
              }
            }
          },
          {
            plotType       = "STACKED_BAR"
            legendTemplate = "quota exhausted (Postgate)"
            timeSeriesQuery = {
              timeSeriesFilter = {
                filter = "metric.type=\"${local.metric_types.youtube_quota_exhausted}\" AND resource.type=\"cloud_run_revision\""
                aggregation = {
                  alignmentPeriod    = "3600s"
                  perSeriesAligner   = "ALIGN_DELTA"
                  crossSeriesReducer = "REDUCE_SUM"
                }
              }
            }
          },
        ]
        yAxis = { label = "units per hour", scale = "LINEAR" }
      }
    },
  ]

  dashboard = {
    displayName = "Postgate"
    mosaicLayout = {
      columns = 48
      tiles = [
        for index, widget in local.widgets : {
          xPos   = (index % 2) * 24
          yPos   = floor(index / 2) * 16
          width  = 24
          height = 16
          widget = widget
        }
      ]
    }
  }
}
