"""Analytics: scheduled metrics pulls per platform and account into BigQuery post_metrics."""
