"""Production failures reach a person: infra/terraform/monitoring.tf and modules/monitoring.

Offline, like tests/test_terraform.py: module.monitoring (no providers) is evaluated by the terraform
binary from module.topology's outputs, and the root module's resource blocks are read with python-hcl2
and rendered per instance. The log-based metrics are checked against the source: each filter must name
a message (at the severity) that a log_event call in shared/ really writes, so renaming an event or
changing its level breaks this test rather than silently emptying a metric and its alert.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import hcl2
import pytest

from shared.topology import load_topology
from tests.test_doc_links import link_problem
from tests.test_terraform import ROOT, TERRAFORM_DIR, _block, _clean, _parse_root_module, _render

MODULES = TERRAFORM_DIR / "modules"
SHARED = ROOT / "shared"

pytestmark = pytest.mark.skipif(shutil.which("terraform") is None,
                                reason="terraform binary not on PATH: cannot evaluate module.monitoring")

DASHBOARD_TITLES = [
    "Posts by final state per platform per day",
    "Publish latency, approval to confirmed",
    "Dead-letter depth",
    "Function errors",
    "YouTube quota used",
]


# --- evaluation --------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def monitoring(tmp_path_factory) -> dict:
    """module.monitoring's outputs, fed by module.topology exactly as infra/terraform/monitoring.tf feeds it."""
    workdir = tmp_path_factory.mktemp("monitoring")
    (workdir / "main.tf").write_text(f"""
module "topology" {{
  source         = "{MODULES / 'topology'}"
  topology_path  = "{ROOT / 'infra' / 'topology.yaml'}"
  project        = "postgate-test"
  project_number = "123456789012"
  region         = "europe-west1"
}}
module "monitoring" {{
  source             = "{MODULES / 'monitoring'}"
  prefix             = module.topology.prefix
  dead_letter_topics = module.topology.dead_letter_topics
  function_names     = keys(module.topology.functions)
}}
output "monitoring" {{
  value = module.monitoring
}}
""", encoding="utf-8")
    (workdir / "empty.tfrc").write_text("", encoding="utf-8")
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(workdir), "CHECKPOINT_DISABLE": "1",
           "TF_CLI_CONFIG_FILE": str(workdir / "empty.tfrc"), "TF_IN_AUTOMATION": "1"}

    def run(*args):
        return subprocess.run(["terraform", f"-chdir={workdir}", *args], env=env, capture_output=True, text=True,
                              timeout=120)

    for args in (("init", "-input=false", "-backend=false"), ("apply", "-input=false", "-auto-approve")):
        done = run(*args)
        assert done.returncode == 0, f"terraform {args[0]} failed:\n{done.stderr}"
    return json.loads(run("output", "-json").stdout)["monitoring"]["value"]


@pytest.fixture(scope="module")
def resources() -> dict[str, dict]:
    return _parse_root_module()[0]


@pytest.fixture(scope="module")
def topology():
    return load_topology()


def _instances(resources: dict, address: str, source: dict) -> dict[str, dict]:
    block = resources[address]
    body = {k: v for k, v in block.items() if k != "for_each"}
    return {key: _render(body, key, value) for key, value in source.items()}


def _hcl(text: str) -> str:
    """An interpolated HCL string as Terraform reads it (python-hcl2 leaves its escaped quotes escaped)."""
    return text.replace('\\"', '"')


def _shared_source() -> dict[Path, str]:
    return {path: path.read_text(encoding="utf-8") for path in SHARED.rglob("*.py")}


def _logged(message: str) -> dict[Path, set[str]]:
    """file -> severities at which shared/ writes this exact message with log_event."""
    call = re.compile(r"log_event\(\s*\w+,\s*logging\.(\w+),\s*" + re.escape(json.dumps(message)) + r"\s*[,)]")
    found = {}
    for path, text in _shared_source().items():
        levels = set(call.findall(text))
        if levels:
            found[path] = levels
    return found


# --- log-based metrics ---------------------------------------------------------------------------------

def test_each_log_metric_filter_names_a_message_the_code_logs_at_that_severity(monitoring):
    metrics = monitoring["log_metrics"]
    assert {"post_failed", "post_unconfirmed", "account_needs_reconnect", "post_published",
            "publish_latency", "youtube_quota_exhausted"} <= set(metrics)
    for key, metric in metrics.items():
        flt = metric["filter"]
        # Gen2 functions are Cloud Run services: the JSON line's fields land in jsonPayload.
        assert flt.startswith('resource.type="cloud_run_revision" AND '), key
        (severity,) = re.findall(r"\bseverity=(\w+)", flt)
        messages = re.findall(r'jsonPayload\.message="([^"]+)"', flt)
        assert messages, f"{key}: the filter names no message"
        for message in messages:
            logged = _logged(message)
            assert logged, f"{key}: no log_event in shared/ writes {message!r}"
            assert any(severity in levels for levels in logged.values()), (
                f"{key}: {message!r} is logged at {logged}, the filter wants {severity}")


def test_failed_unconfirmed_and_reconnect_metrics_match_the_error_lines_alerting_keys_on(monitoring):
    metrics = monitoring["log_metrics"]
    failed = _logged("post failed")
    assert {path.name for path in failed} >= {"publisher.py", "status_poll.py"}
    assert all(levels == {"ERROR"} for levels in failed.values())
    assert {path.name for path in _logged("account needs reconnecting")} == {"credentials.py"}

    # A post that gives up as unconfirmed is an ERROR "post failed" with fail_class "unconfirmed"
    # (status_poll.py _give_up): its own metric, and not counted again in post_failed.
    status_poll = (SHARED / "publishing" / "status_poll.py").read_text(encoding="utf-8")
    assert re.search(r'_give_up\([^()]*(?:\([^()]*\)[^()]*)*"unconfirmed"\)', status_poll)
    assert 'jsonPayload.fail_class="unconfirmed"' in metrics["post_unconfirmed"]["filter"]
    assert 'NOT jsonPayload.fail_class="unconfirmed"' in metrics["post_failed"]["filter"]
    assert metrics["post_failed"]["labels"] == {"platform": "jsonPayload.platform",
                                                "fail_class": "jsonPayload.fail_class"}


def test_metric_labels_are_fields_the_code_puts_on_its_log_lines(monitoring):
    """platform comes from log_context(...), fail_class / account_id from the log_event call's fields."""
    code = "\n".join(_shared_source().values())
    for key, metric in monitoring["log_metrics"].items():
        for label, field in metric["labels"].items():
            name = field.removeprefix("jsonPayload.")
            assert re.search(rf"log_(?:event|context)\([^\n]*\b{name}=", code), f"{key}.{label}: nothing logs {name}"


def test_the_youtube_quota_metric_matches_the_quota_errors_the_code_raises(monitoring):
    flt = monitoring["log_metrics"]["youtube_quota_exhausted"]["filter"]
    assert 'jsonPayload.platform="youtube"' in flt
    quota = (SHARED / "platforms" / "youtube" / "quota.py").read_text(encoding="utf-8")
    client = (SHARED / "platforms" / "youtube" / "client.py").read_text(encoding="utf-8")
    assert 'CapReached(f"youtube quota:' in quota and "youtube quota:" in flt
    assert '_QUOTA_REASONS = {"quotaExceeded", "dailyLimitExceeded"}' in client
    assert "quotaExceeded" in flt and "dailyLimitExceeded" in flt
    # publisher.py releases a capped post with reason "platform cap reached: <the CapReached text>".
    assert 'f"platform cap reached: {exc}"' in (SHARED / "publishing" / "publisher.py").read_text(encoding="utf-8")


def test_every_log_metric_is_created_as_the_module_declares_it(resources, monitoring):
    metric = resources["google_logging_metric.postgate"]
    assert metric["for_each"] == "${module.monitoring.log_metrics}"
    assert metric["filter"] == "${each.value.filter}"
    assert metric["name"] == "${local.prefix}/${each.key}"
    for key, metric_type in monitoring["metric_types"].items():
        assert metric_type == f"logging.googleapis.com/user/postgate/{key}"
    latency = monitoring["log_metrics"]["publish_latency"]
    assert latency["value_field"] == "jsonPayload.approval_to_publish_seconds"
    assert latency["unit"] == "s"
    assert [k for k, m in monitoring["log_metrics"].items() if m["value_field"]] == ["publish_latency"]
    assert _block(metric, "metric_descriptor")["value_type"] == (
        '${each.value.value_field == null ? "INT64" : "DISTRIBUTION"}')


def test_the_published_line_carries_the_latency_the_dashboard_charts():
    for path in _logged("post published"):
        text = path.read_text(encoding="utf-8")
        calls = [m.start() for m in re.finditer(r'log_event\(log, logging\.INFO, "post published",', text)]
        assert calls, path.name
        for start in calls:  # the call's arguments: up to the next statement (a blank line or a return)
            call = re.split(r"\n\s*(?:return|\n)", text[start:], maxsplit=1)[0]
            assert "approval_to_publish_seconds=" in call, f"{path.name}: {call}"


# --- alert policies -----------------------------------------------------------------------------------

def test_every_dead_letter_topic_has_an_alert_on_its_inspection_subscription(resources, monitoring, topology):
    alerts = monitoring["dead_letter_alerts"]
    expected = {topology.dead_letter_topic(topic) for topic in topology.topics}
    assert set(alerts) == expected

    assert resources["google_monitoring_alert_policy.dead_letter"]["for_each"] == (
        "${module.monitoring.dead_letter_alerts}")
    assert resources["google_pubsub_subscription.dead_letter_inspection"]["for_each"] == (
        "${module.topology.dead_letter_topics}")
    rendered = _instances(resources, "google_monitoring_alert_policy.dead_letter", alerts)
    for dead_letter, policy in rendered.items():
        assert alerts[dead_letter]["subscription"] == (
            dead_letter + topology.dead_letter.inspection_subscription_suffix)
        condition = _block(_block(policy, "conditions"), "condition_threshold")
        condition["filter"] = _hcl(condition["filter"])
        assert 'metric.type="pubsub.googleapis.com/subscription/num_undelivered_messages"' in condition["filter"]
        assert (f'resource.label.subscription_id="${{google_pubsub_subscription.dead_letter_inspection'
                f'["{dead_letter}"].name}}"') in condition["filter"]
        assert (condition["comparison"], condition["threshold_value"]) == ("COMPARISON_GT", 0)


def test_failed_unconfirmed_reconnect_and_quota_events_each_have_an_alert_on_their_metric(resources, monitoring):
    alerts = monitoring["log_alerts"]
    assert set(alerts) == {"post_failed", "post_unconfirmed", "account_needs_reconnect", "youtube_quota_exhausted"}
    assert set(alerts) <= set(monitoring["log_metrics"])

    assert resources["google_monitoring_alert_policy.log_event"]["for_each"] == "${module.monitoring.log_alerts}"
    # A new log-based metric is not visible to alert policies for minutes (terraform-provider-google#11102).
    assert resources["google_monitoring_alert_policy.log_event"]["depends_on"] == ["${time_sleep.log_metrics_visible}"]
    wait = resources["time_sleep.log_metrics_visible"]
    assert int(wait["create_duration"].removesuffix("s")) >= 120
    assert "google_logging_metric.postgate" in wait["triggers"]["metrics"]
    for key, policy in _instances(resources, "google_monitoring_alert_policy.log_event", alerts).items():
        condition = _block(_block(policy, "conditions"), "condition_threshold")
        assert _hcl(condition["filter"]).startswith(
            f'metric.type="logging.googleapis.com/user/${{google_logging_metric.postgate["{key}"].name}}"')
        assert (condition["comparison"], condition["threshold_value"]) == ("COMPARISON_GT", 0)
        aggregation = _block(condition, "aggregations")
        assert aggregation["per_series_aligner"] == "ALIGN_SUM"
        # Grouped by labels the metric has.
        labels = monitoring["log_metrics"][key]["labels"]
        for field in aggregation["group_by_fields"]:
            assert field.removeprefix("metric.label.") in labels


def test_every_alert_documents_what_to_check_and_a_docs_section_that_exists(resources, monitoring):
    assert (ROOT / "docs" / "runbook.md").exists()
    documented = {**{f"log {k}": a for k, a in monitoring["log_alerts"].items()},
                  **{f"dead-letter {k}": a for k, a in monitoring["dead_letter_alerts"].items()}}
    for name, alert in documented.items():
        text = alert["documentation"]
        assert "Check" in text, f"{name}: nothing to check"
        (line,) = [line for line in text.splitlines() if line.startswith("Docs (in the repository):")]
        sections = re.findall(r"(docs/[\w-]+\.md#[\w-]+)", line)
        assert sections, f"{name}: names no docs/ section"
        assert any(s.startswith("docs/runbook.md#") for s in sections), f"{name}: names no runbook section"
        missing = [s for s in sections if link_problem(ROOT / "README.md", s)]
        assert not missing, f"{name}: no such file or section {missing}"
    for address in ("google_monitoring_alert_policy.log_event", "google_monitoring_alert_policy.dead_letter"):
        doc = _block(resources[address], "documentation")
        assert (doc["content"], doc["mime_type"]) == ("${each.value.documentation}", "text/markdown")


def test_every_alert_policy_notifies_every_channel(resources):
    policies = [a for a in resources if a.startswith("google_monitoring_alert_policy.")]
    assert len(policies) >= 2
    for address in policies:
        assert resources[address]["notification_channels"] == "${local.notification_channels}", address

    _, local_values = _parse_root_module()
    channels = local_values["notification_channels"]
    for part in ("google_monitoring_notification_channel.email", "google_monitoring_notification_channel.slack",
                 "var.alert_notification_channels"):
        assert part in channels

    email = resources["google_monitoring_notification_channel.email"]
    assert (email["for_each"], email["type"], email["labels"]) == (
        "${toset(var.alert_emails)}", "email", {"email_address": "${each.value}"})
    slack = resources["google_monitoring_notification_channel.slack"]
    assert slack["type"] == "slack"
    assert _block(slack, "sensitive_labels")["auth_token"] == "${var.alert_slack_auth_token}"
    with open(TERRAFORM_DIR / "variables.tf", encoding="utf-8") as fh:
        variables = {name: body for entry in _clean(hcl2.load(fh))["variable"] for name, body in entry.items()}
    assert variables["alert_slack_auth_token"]["sensitive"] is True
    assert {"alert_emails", "alert_slack_channel", "alert_notification_channels"} <= set(variables)


def test_terraform_enables_the_monitoring_and_logging_apis():
    apis = _parse_root_module()[1]["required_apis"]
    assert {"monitoring.googleapis.com", "logging.googleapis.com"} <= set(apis)


# --- dashboard ----------------------------------------------------------------------------------------

def test_the_dashboard_has_the_five_charts_over_known_metrics(resources, monitoring, topology):
    dashboard = resources["google_monitoring_dashboard.postgate"]
    assert dashboard["dashboard_json"] == "${module.monitoring.dashboard_json}"
    assert "${google_logging_metric.postgate}" in dashboard["depends_on"]

    parsed = json.loads(monitoring["dashboard_json"])
    tiles = parsed["mosaicLayout"]["tiles"]
    assert [tile["widget"]["title"] for tile in tiles] == DASHBOARD_TITLES
    cells = set()
    for tile in tiles:
        assert tile["xPos"] + tile["width"] <= parsed["mosaicLayout"]["columns"]
        area = {(x, y) for x in range(tile["xPos"], tile["xPos"] + tile["width"])
                for y in range(tile["yPos"], tile["yPos"] + tile["height"])}
        assert not cells & area, f"{tile['widget']['title']} overlaps another chart"
        cells |= area

    by_title = {tile["widget"]["title"]: tile["widget"]["xyChart"]["dataSets"] for tile in tiles}
    filters = {title: [d["timeSeriesQuery"]["timeSeriesFilter"]["filter"] for d in sets]
               for title, sets in by_title.items()}
    types = monitoring["metric_types"]

    def metric_of(flt):
        return re.match(r'metric\.type="([^"]+)"', flt).group(1)

    assert {metric_of(f) for f in filters["Posts by final state per platform per day"]} == {
        types["post_published"], types["post_failed"], types["post_unconfirmed"]}
    for data_set in by_title["Posts by final state per platform per day"]:
        aggregation = data_set["timeSeriesQuery"]["timeSeriesFilter"]["aggregation"]
        assert aggregation["alignmentPeriod"] == "86400s"
        assert aggregation["groupByFields"] == ["metric.label.platform"]
    assert {metric_of(f) for f in filters["Publish latency, approval to confirmed"]} == {types["publish_latency"]}

    (depth,) = filters["Dead-letter depth"]
    assert metric_of(depth) == "pubsub.googleapis.com/subscription/num_undelivered_messages"
    for topic in topology.topics:
        assert f'"{topology.dead_letter_topic(topic)}{topology.dead_letter.inspection_subscription_suffix}"' in depth

    errors = filters["Function errors"]
    assert {metric_of(f) for f in errors} == {"run.googleapis.com/request_count", "logging.googleapis.com/log_entry_count"}
    assert any('metric.label.response_code_class="5xx"' in f for f in errors)
    assert any('metric.label.severity="ERROR"' in f for f in errors)
    for name in topology.functions:
        assert all(f'"{name}"' in f for f in errors)

    quota = filters["YouTube quota used"]
    assert {metric_of(f) for f in quota} == {"serviceruntime.googleapis.com/quota/rate/net_usage",
                                             types["youtube_quota_exhausted"]}
    assert any('resource.label.service="youtube.googleapis.com"' in f for f in quota)
