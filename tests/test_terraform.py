"""infra/terraform deploys exactly what infra/topology.yaml declares.

Every topic, subscription, function and schedule of the topology becomes a resource with the same
settings, and every function's service account holds only the roles its access block asks for.
Resource blocks are read with python-hcl2; the maps they iterate over (for_each) come from
module.topology, evaluated by the terraform binary offline (the module has no providers). Each
resource instance is then rendered by substituting each.key / each.value into its block.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import hcl2
import pytest

from shared.topology import Topology, load_topology

ROOT = Path(__file__).resolve().parent.parent
TERRAFORM_DIR = ROOT / "infra" / "terraform"
MODULE_DIR = TERRAFORM_DIR / "modules" / "topology"
PROJECT = "postgate-test"
PROJECT_NUMBER = "123456789012"
ACCOUNTS = [{"platform": "tiktok", "account_id": "brand-main"}, {"platform": "x", "account_id": "brand"}]

# The role each access level means; the Terraform module must derive these and nothing else.
FIRESTORE_ROLES = {"read": "roles/datastore.viewer", "write": "roles/datastore.user"}
STORAGE_ROLES = {"read": "roles/storage.objectViewer", "write": "roles/storage.objectUser"}
SECRET_PREFIX_ROLES = {
    "read": ["roles/secretmanager.secretAccessor"],
    "rotate": ["roles/secretmanager.secretAccessor", "roles/secretmanager.secretVersionAdder"],
}

pytestmark = pytest.mark.skipif(shutil.which("terraform") is None,
                                reason="terraform binary not on PATH: cannot evaluate module.topology")


# --- reading the configuration -------------------------------------------------------------------

def _clean(node):
    """python-hcl2's output without its markers: keys and string literals unquoted."""
    if isinstance(node, dict):
        return {_unquote(k): _clean(v) for k, v in node.items() if k not in ("__is_block__", "__comments__")}
    if isinstance(node, list):
        return [_clean(v) for v in node]
    if isinstance(node, str):
        return _unquote(node)
    return node


def _unquote(text: str) -> str:
    if len(text) >= 2 and text.startswith('"') and text.endswith('"'):
        return json.loads(text) if "${" not in text else text[1:-1]
    return text


def _parse_root_module() -> tuple[dict[str, dict], dict[str, str]]:
    """('type.name' -> block for resources and 'data.type.name' data sources, local name -> expression)."""
    blocks, local_values = {}, {}
    for path in sorted(TERRAFORM_DIR.glob("*.tf")):
        with open(path, encoding="utf-8") as fh:
            parsed = _clean(hcl2.load(fh))
        for kind, prefix in (("resource", ""), ("data", "data.")):
            for entry in parsed.get(kind, []):
                for rtype, named in entry.items():
                    for name, body in named.items():
                        blocks[f"{prefix}{rtype}.{name}"] = body
        for entry in parsed.get("locals", []):
            local_values.update(entry)
    return blocks, local_values


@pytest.fixture(scope="module")
def resources() -> dict[str, dict]:
    return _parse_root_module()[0]


def _evaluate_module(workdir: Path, **inputs) -> dict:
    """module.topology's outputs for these inputs, as Terraform computes them (no providers needed)."""
    inputs = {"topology_path": str(ROOT / "infra" / "topology.yaml"), "project": PROJECT,
              "project_number": PROJECT_NUMBER, "region": "europe-west1", **inputs}
    (workdir / "main.tf").write_text(
        'module "topology" {\n  source = "%s"\n%s}\noutput "topology" {\n  value = module.topology\n}\n'
        % (MODULE_DIR, "".join(f"  {k} = {json.dumps(v)}\n" for k, v in inputs.items())),
        encoding="utf-8",
    )
    (workdir / "empty.tfrc").write_text("", encoding="utf-8")
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(workdir), "CHECKPOINT_DISABLE": "1",
           "TF_CLI_CONFIG_FILE": str(workdir / "empty.tfrc"), "TF_IN_AUTOMATION": "1"}

    def run(*args):
        return subprocess.run(["terraform", f"-chdir={workdir}", *args], env=env, capture_output=True,
                              text=True, timeout=120)

    for args in (("init", "-input=false", "-backend=false"), ("apply", "-input=false", "-auto-approve")):
        done = run(*args)
        if done.returncode != 0:
            raise RuntimeError(f"terraform {args[0]} failed:\n{done.stderr}")
    return json.loads(run("output", "-json").stdout)["topology"]["value"]


@pytest.fixture(scope="module")
def expanded(tmp_path_factory) -> dict:
    return _evaluate_module(tmp_path_factory.mktemp("tf"), accounts=ACCOUNTS)


@pytest.fixture(scope="module")
def topology() -> Topology:
    return load_topology()


_EACH = re.compile(r"each\.(key|value((?:\.[A-Za-z_]\w*)*))")


def _substitute(text: str, key: str, value):
    def lookup(match):
        if match.group(1) == "key":
            return key
        found = value
        for part in match.group(2).split(".")[1:]:
            found = found[part]
        return found

    whole = re.fullmatch(r"\$\{(each\.(?:key|value(?:\.[A-Za-z_]\w*)*))\}", text)
    if whole:
        return lookup(_EACH.fullmatch(whole.group(1)))
    # Inside a larger expression (an index, an interpolation) a substituted value is a literal.
    return _EACH.sub(lambda m: json.dumps(lookup(m)), text)


def _render(node, key: str, value):
    if isinstance(node, dict):
        return {k: _render(v, key, value) for k, v in node.items()}
    if isinstance(node, list):
        return [_render(v, key, value) for v in node]
    if isinstance(node, str):
        return _substitute(node, key, value)
    return node


def _for_each_source(block: dict, expanded: dict) -> dict | None:
    """The map a resource iterates over, when it is one of module.topology's outputs."""
    match = re.fullmatch(r'\$\{module\.topology\.(\w+)(?:\["(\w+)"\])?\}', str(block.get("for_each", "")))
    if not match:
        return None
    source = expanded[match.group(1)]
    return source[match.group(2)] if match.group(2) else source


def _each(resources: dict, expanded: dict, address: str) -> dict[str, tuple]:
    """Instance key -> (each.value, the block with each.key / each.value substituted)."""
    block = resources[address]
    source = _for_each_source(block, expanded)
    assert source is not None, f"{address} does not iterate over module.topology"
    if isinstance(source, list):  # a set of strings
        source = {item: item for item in source}
    body = {k: v for k, v in block.items() if k != "for_each"}
    return {key: (value, _render(body, key, value)) for key, value in source.items()}


def instances(resources: dict, expanded: dict, address: str) -> dict[str, dict]:
    return {key: rendered for key, (_, rendered) in _each(resources, expanded, address).items()}


def _block(body: dict, name: str) -> dict:
    (inner,) = body[name]
    return inner


# --- topics, subscriptions, schedules --------------------------------------------------------------

def test_every_topic_and_its_dead_letter_topic_is_created(resources, expanded, topology):
    topics = instances(resources, expanded, "google_pubsub_topic.topic")
    dead_letters = instances(resources, expanded, "google_pubsub_topic.dead_letter")

    assert {t["name"] for t in topics.values()} == set(topology.topics)
    assert {t["name"] for t in dead_letters.values()} == {topology.dead_letter_topic(t) for t in topology.topics}


def test_dead_lettered_messages_are_kept_for_inspection_on_a_pull_subscription(resources, expanded, topology):
    inspection = instances(resources, expanded, "google_pubsub_subscription.dead_letter_inspection")

    by_name = {sub["name"]: sub for sub in inspection.values()}
    for topic in topology.topics:
        dead_letter = topology.dead_letter_topic(topic)
        sub = by_name[dead_letter + topology.dead_letter.inspection_subscription_suffix]
        assert sub["topic"] == f'${{google_pubsub_topic.dead_letter["{dead_letter}"].id}}'
        assert sub["message_retention_duration"] == f"{topology.dead_letter.message_retention_seconds}s"
        assert "push_config" not in sub
        assert _block(sub, "expiration_policy")["ttl"] == ""


def test_every_subscription_pushes_to_its_function_with_the_declared_delivery_settings(resources, expanded,
                                                                                      topology):
    subscriptions = instances(resources, expanded, "google_pubsub_subscription.push")

    assert set(subscriptions) == set(topology.subscriptions)
    for name, declared in topology.subscriptions.items():
        sub = subscriptions[name]
        assert sub["name"] == name
        assert sub["topic"] == f'${{google_pubsub_topic.topic["{declared.topic}"].id}}'
        assert sub["ack_deadline_seconds"] == declared.ack_deadline_seconds
        retry = _block(sub, "retry_policy")
        assert retry["minimum_backoff"] == f"{declared.retry_policy.minimum_backoff_seconds}s"
        assert retry["maximum_backoff"] == f"{declared.retry_policy.maximum_backoff_seconds}s"
        dead_letter = _block(sub, "dead_letter_policy")
        assert dead_letter["dead_letter_topic"] == (
            f'${{google_pubsub_topic.dead_letter["{topology.dead_letter_topic(declared.topic)}"].id}}')
        assert dead_letter["max_delivery_attempts"] == declared.max_delivery_attempts
        push = _block(sub, "push_config")
        function_uri = f'google_cloudfunctions2_function.function["{declared.push_function}"].service_config[0].uri'
        assert push["push_endpoint"].startswith("${" + function_uri + "}")
        assert _block(push, "oidc_token")["audience"] == "${" + function_uri + "}"


def test_every_schedule_publishes_its_payload_to_its_topic(resources, expanded, topology):
    jobs = instances(resources, expanded, "google_cloud_scheduler_job.schedule")

    assert set(jobs) == set(topology.schedules)
    for name, declared in topology.schedules.items():
        job = jobs[name]
        assert (job["schedule"], job["time_zone"]) == (declared.cron, declared.time_zone)
        target = _block(job, "pubsub_target")
        assert target["topic_name"] == f'${{google_pubsub_topic.topic["{declared.topic}"].id}}'
        assert json.loads(base64.b64decode(target["data"])) == declared.payload


# --- functions ---------------------------------------------------------------------------------------

def test_every_function_is_a_gen2_python311_function_with_its_declared_settings(resources, expanded, topology):
    functions = instances(resources, expanded, "google_cloudfunctions2_function.function")

    assert set(functions) == set(topology.functions)
    for name, declared in topology.functions.items():
        fn = functions[name]
        build = _block(fn, "build_config")
        service = _block(fn, "service_config")
        assert build["runtime"] == "python311"
        assert build["entry_point"] == declared.entry_point
        source = _block(_block(build, "source"), "storage_source")
        assert source["object"] == (
            f'${{google_storage_bucket_object.function_source["{Path(declared.source).name}"].name}}')
        assert service["available_memory"] == declared.memory
        assert service["max_instance_count"] == declared.max_instances
        assert service["timeout_seconds"] == declared.timeout_seconds
        assert service["max_instance_request_concurrency"] == declared.concurrency
        assert service["available_cpu"] == declared.cpu
        # functions-framework runs as many request threads as the instance takes requests
        threads = {"THREADS": str(declared.concurrency)} if declared.concurrency > 1 else {}
        assert service["environment_variables"] == (
            f"${{merge(var.function_environment, local.function_environment, {json.dumps(threads)})}}")
        assert service["service_account_email"] == f'${{google_service_account.function["{name}"].email}}'
        assert "event_trigger" not in fn  # Pub/Sub reaches it through google_pubsub_subscription.push
        expected_ingress = "ALLOW_ALL" if declared.trigger.type == "http" else "ALLOW_INTERNAL_ONLY"
        assert service["ingress_settings"] == expected_ingress


def test_every_function_is_zipped_with_shared_requirements_and_the_topology(resources, expanded, topology):
    archives = instances(resources, expanded, "data.archive_file.function_source")
    _, local_values = _parse_root_module()

    assert set(expanded["sources"].values()) == {fn.source for fn in topology.functions.values()}
    for key, archive in archives.items():
        assert archive["dynamic"][0]["source"]["for_each"] == f'${{local.source_files["{key}"]}}'
        assert archive["source"] == [{"filename": "shared/topology.yaml", "content": "${file(local.topology_path)}"}]
    source_files = local_values["source_files"]
    assert "local.shared_files" in source_files and "requirements.txt" in source_files
    for fn in topology.functions.values():
        main = ROOT / fn.source / "main.py"
        assert re.search(rf"^def {fn.entry_point}\(", main.read_text(encoding="utf-8"), re.M), (
            f"{fn.source}/main.py has no entry point {fn.entry_point}")


def test_memory_and_max_instance_overrides_replace_only_the_named_functions(tmp_path, topology):
    overridden = _evaluate_module(tmp_path, memory_overrides={"publish-youtube": "2Gi"},
                                  max_instances_overrides={"publish-tiktok": 7})["functions"]

    assert overridden["publish-youtube"]["memory"] == "2Gi"
    assert overridden["publish-tiktok"]["max_instances"] == 7
    for name, declared in topology.functions.items():
        if name != "publish-youtube":
            assert overridden[name]["memory"] == declared.memory
        if name != "publish-tiktok":
            assert overridden[name]["max_instances"] == declared.max_instances


def test_only_functions_marked_public_can_be_invoked_by_all_users(resources, expanded, topology, public_access):
    # The default public_access ("all_users"); the other mode is tested with the first-apply defects below.
    all_users = _all_users_invoked(resources, expanded, public_access["all_users"])

    public = [name for name, fn in topology.functions.items() if fn.trigger.public]
    # approval-http: signed single-use links; api: bearer tokens checked by the function and the OAuth callback.
    assert sorted(public) == ["api", "approval-http"]
    # The one invoker list taken from a variable covers only non-public HTTP functions, never everyone.
    assert "module.topology.private_http_functions" in (
        resources["google_cloud_run_v2_service_iam_member.http_invoker"]["for_each"])
    assert sorted(all_users) == sorted(f'${{google_cloudfunctions2_function.function["{name}"].name}}' for name in public)


def test_pubsub_fed_functions_are_invoked_by_the_push_identity(resources, expanded, topology):
    invokers = instances(resources, expanded, "google_cloud_run_v2_service_iam_member.pubsub_push_invoker")

    invoked = {inv["name"] for inv in invokers.values()}
    assert invoked == {f'${{google_cloudfunctions2_function.function["{sub.push_function}"].name}}'
                       for sub in topology.subscriptions.values()}
    assert {inv["member"] for inv in invokers.values()} == {"serviceAccount:${google_service_account.pubsub_push.email}"}
    push_identity = {_block(_block(sub, "push_config"), "oidc_token")["service_account_email"]
                     for sub in instances(resources, expanded, "google_pubsub_subscription.push").values()}
    assert push_identity == {"${google_service_account.pubsub_push.email}"}


# --- least privilege -----------------------------------------------------------------------------------

def _expected_grants(topology: Topology) -> set[tuple]:
    """(function, role, where) for every role the access blocks ask for."""
    grants = set()
    for name, fn in topology.functions.items():
        access = fn.access
        if access.firestore:
            grants.add((name, FIRESTORE_ROLES[access.firestore], "project"))
        for bucket, level in access.storage.items():
            grants.add((name, STORAGE_ROLES[level], f"bucket {bucket}"))
        for topic in access.publishes:
            grants.add((name, "roles/pubsub.publisher", f"topic {topic}"))
        for secret in access.secrets:
            grants.add((name, "roles/secretmanager.secretAccessor", f"secret {secret}"))
        for prefix, level in access.secret_prefixes.items():
            for role in SECRET_PREFIX_ROLES[level]:
                grants.add((name, role, f'project if resource.name.startsWith("projects/{PROJECT_NUMBER}/secrets/{prefix}")'))
        for table in access.bigquery_tables:
            grants.add((name, "roles/bigquery.dataEditor", f"table {table}"))
        for table in access.bigquery_reads:
            grants.add((name, "roles/bigquery.dataViewer", f"table {table}"))
        if access.bigquery_tables or access.bigquery_reads:  # MERGE, load jobs and queries are jobs
            grants.add((name, "roles/bigquery.jobUser", "project"))
        if access.sign_urls:
            grants.add((name, "roles/iam.serviceAccountTokenCreator", f"service account {name}"))
    return grants


# Which argument names the resource a grant is on, per IAM resource type.
_GRANT_TARGETS = {
    "google_storage_bucket_iam_member": ("bucket", r'google_storage_bucket\.topology\["([^"]+)"\]', "bucket"),
    "google_pubsub_topic_iam_member": ("topic", r'google_pubsub_topic\.topic\["([^"]+)"\]', "topic"),
    "google_secret_manager_secret_iam_member": ("secret_id", r'google_secret_manager_secret\.secret\["([^"]+)"\]',
                                                "secret"),
    "google_bigquery_table_iam_member": ("table_id", r'merge\(google_bigquery_table\.table, google_bigquery_table\.view\)'
                                                     r'\["([^"]+)"\]', "table"),
    "google_service_account_iam_member": ("service_account_id",
                                          r'google_service_account\.function\["([^"]+)"\]', "service account"),
}


def _all_instances(resources, expanded, address, local_values: dict | None = None):
    """Every instance of a resource; for_each over module.topology, or over a root local evaluated in
    local_values (see _evaluate_public_access)."""
    block = resources[address]
    if "for_each" not in block:
        return {None: block}
    local = re.fullmatch(r"\$\{local\.(\w+)\}", str(block["for_each"]))
    if local and local_values is not None and local.group(1) in local_values:
        body = {k: v for k, v in block.items() if k != "for_each"}
        return {key: _render(body, key, value) for key, value in local_values[local.group(1)].items()}
    if _for_each_source(block, expanded) is None:
        return {"(not from the topology)": block}
    return instances(resources, expanded, address)


def _all_users_invoked(resources, expanded, local_values) -> list[str]:
    """The function each allUsers invoker binding names, over every Cloud Run / Cloud Functions IAM resource."""
    all_users = []
    for address in resources:
        if not address.startswith(("google_cloud_run_v2_service_iam", "google_cloudfunctions2_function_iam")):
            continue
        for instance in _all_instances(resources, expanded, address, local_values).values():
            if instance.get("member") == "allUsers":
                all_users.append(instance["name"])
    return all_users


def test_each_function_service_account_holds_exactly_the_roles_its_access_block_declares(resources, expanded,
                                                                                         topology):
    actual = set()
    for address, block in resources.items():
        rtype = address.split(".")[0]
        if not rtype.endswith("_iam_member"):
            continue
        if "function_members" in block["member"] or "google_service_account.function[" in block["member"]:
            assert block["member"] == "${local.function_members[each.value.function]}", (
                f"{address} grants to a function's account outside module.topology.grants")
        if block["member"] != "${local.function_members[each.value.function]}":
            continue
        for value, instance in _each(resources, expanded, address).values():
            if rtype == "google_project_iam_member":
                condition = instance["dynamic"][0]["condition"]
                # The condition is there exactly when the grant carries one (secret prefixes).
                assert block["dynamic"][0]["condition"]["for_each"] == (
                    "${each.value.condition_expression == null ? [] : [each.value]}")
                assert condition["content"][0]["expression"] == "${condition.value.condition_expression}"
                where = "project"
                if value["condition_expression"] is not None:
                    where = f"project if {value['condition_expression']}"
            else:
                argument, pattern, label = _GRANT_TARGETS[rtype]
                target = re.search(pattern, instance[argument])
                assert target, f"{address}: {argument} {instance[argument]} is not a topology resource"
                where = f"{label} {target.group(1)}"
            actual.add((value["function"], instance["role"], where))

    assert actual == _expected_grants(topology)


def test_functions_without_firestore_access_get_no_firestore_role(tmp_path):
    topology_path = tmp_path / "topology.yaml"
    import yaml

    declared = yaml.safe_load((ROOT / "infra" / "topology.yaml").read_text(encoding="utf-8"))
    # dispatch, declared as a function that only publishes to TikTok
    declared["functions"]["dispatch"]["access"] = {"publishes": ["publish-tiktok"]}
    topology_path.write_text(yaml.safe_dump(declared), encoding="utf-8")

    workdir = tmp_path / "eval"
    workdir.mkdir()

    grants = _evaluate_module(workdir, topology_path=str(topology_path))["grants"]

    assert [(g["role"], g["resource"]) for g in grants.values() if g["function"] == "dispatch"] == [
        ("roles/pubsub.publisher", "publish-tiktok")]


# --- data stores -------------------------------------------------------------------------------------

def test_every_table_has_the_topology_schema_day_partitioning_and_clustering(resources, expanded, topology):
    tables = instances(resources, expanded, "google_bigquery_table.table")

    assert set(tables) == set(topology.bigquery.tables)
    for name, declared in topology.bigquery.tables.items():
        table = tables[name]
        assert json.loads(table["schema"]) == [c.model_dump() for c in declared.schema_]
        partitioning = _block(table, "time_partitioning")
        assert (partitioning["type"], partitioning["field"]) == ("DAY", declared.partition_field)
        assert expanded["tables"][name]["clustering"] == declared.clustering
        assert table["deletion_protection"] is True
    assert expanded["bigquery_dataset"] == topology.bigquery.dataset


def test_buckets_delete_objects_after_the_declared_days(resources, expanded, topology):
    buckets = instances(resources, expanded, "google_storage_bucket.topology")

    assert set(buckets) == set(topology.storage.buckets)
    for name, declared in topology.storage.buckets.items():
        bucket = buckets[name]
        rule = _block(bucket, "lifecycle_rule")
        assert _block(rule, "condition")["age"] == declared.delete_after_days
        assert _block(rule, "action")["type"] == "Delete"
        assert bucket["location"] == declared.location
        assert bucket["public_access_prevention"] == "enforced"


def test_declared_secrets_and_one_secret_per_connected_account_are_created(resources, expanded, topology):
    secrets = instances(resources, expanded, "google_secret_manager_secret.secret")

    assert {s["secret_id"] for s in secrets.values()} == (
        set(topology.secrets) | {"tiktok-account-brand-main", "x-account-brand"})
    assert not any("google_secret_manager_secret_version" in address for address in resources)


def test_an_account_on_a_platform_without_a_publisher_is_refused(tmp_path):
    with pytest.raises(RuntimeError, match="platform must be one a topic declares"):
        _evaluate_module(tmp_path, accounts=[{"platform": "myspace", "account_id": "brand"}])


def test_firestore_has_the_declared_composite_indexes(resources, expanded, topology):
    indexes = instances(resources, expanded, "google_firestore_index.composite")

    created = set()
    for index in indexes.values():
        fields = index["dynamic"][0]["fields"]
        assert fields["content"] == [{"field_path": '${split(" ", fields.value)[0]}',
                                      "order": '${endswith(fields.value, " desc") ? "DESCENDING" : "ASCENDING"}'}]
        created.add((index["collection"], tuple(fields["for_each"])))
    assert created == {(ix.collection, tuple(ix.fields)) for ix in topology.firestore.indexes}


def test_short_lived_collections_have_a_ttl_policy_on_their_expiry_field(resources, expanded, topology):
    fields = instances(resources, expanded, "google_firestore_field.ttl")

    assert {(f["collection"], f["field"]) for f in fields.values()} == {
        (t.collection, t.field) for t in topology.firestore.ttl}
    assert ("api_rate", "expires_at") in {(t.collection, t.field) for t in topology.firestore.ttl}
    for field in fields.values():
        assert field["ttl_config"] == [{}] or field["ttl_config"] == {}


# --- Cloud Storage notifications (reports.tf) ----------------------------------------------------------

def _evaluate_locals(workdir: Path, tf_file: str, names: list[str], topology_path: Path | None = None) -> dict:
    """The `locals` block of one root-module file, as Terraform computes it from the topology alone."""
    text = (TERRAFORM_DIR / tf_file).read_text(encoding="utf-8")
    (block,) = re.findall(r"^locals \{\n.*?^\}\n", text, re.M | re.S)
    path = topology_path or ROOT / "infra" / "topology.yaml"
    (workdir / "main.tf").write_text(
        f"locals {{\n  topology_path = {json.dumps(str(path))}\n}}\n{block}"
        + "".join(f'output "{name}" {{\n  value = local.{name}\n}}\n' for name in names), encoding="utf-8")
    (workdir / "empty.tfrc").write_text("", encoding="utf-8")
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(workdir), "CHECKPOINT_DISABLE": "1",
           "TF_CLI_CONFIG_FILE": str(workdir / "empty.tfrc"), "TF_IN_AUTOMATION": "1"}
    for args in (("init", "-input=false", "-backend=false"), ("apply", "-input=false", "-auto-approve")):
        done = subprocess.run(["terraform", f"-chdir={workdir}", *args], env=env, capture_output=True, text=True,
                              timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"terraform {args[0]} failed:\n{done.stderr}")
    out = subprocess.run(["terraform", f"-chdir={workdir}", "output", "-json"], env=env, capture_output=True,
                         text=True, timeout=120)
    return {name: value["value"] for name, value in json.loads(out.stdout).items()}


def test_each_notifying_bucket_publishes_finalize_events_under_its_prefix_to_its_topic(resources, topology,
                                                                                       tmp_path):
    evaluated = _evaluate_locals(tmp_path, "reports.tf", ["bucket_notifications", "notification_topics"])
    notifications = evaluated["bucket_notifications"]

    declared = {name: bucket.notify for name, bucket in topology.storage.buckets.items() if bucket.notify}
    assert "reports" in declared
    assert notifications == {name: {"topic": n.topic, "prefix": n.prefix} for name, n in declared.items()}
    block = resources["google_storage_notification.bucket"]
    assert block["for_each"] == "${local.bucket_notifications}"
    body = {k: v for k, v in block.items() if k != "for_each"}
    for name, value in notifications.items():
        notification = _render(body, name, value)
        assert notification["bucket"] == f'${{google_storage_bucket.topology["{name}"].name}}'
        assert notification["topic"] == f'${{google_pubsub_topic.topic["{value["topic"]}"].id}}'
        assert (notification["payload_format"], notification["event_types"]) == ("JSON_API_V1", ["OBJECT_FINALIZE"])
        assert notification["object_name_prefix"] == value["prefix"] == "incoming/"
        # GCS checks it may publish when the notification is created, so the grant must exist first.
        assert notification["depends_on"] == ["${google_pubsub_topic_iam_member.storage_notifications}"]

    grant = resources["google_pubsub_topic_iam_member.storage_notifications"]
    assert grant["for_each"] == "${local.notification_topics}"
    assert sorted(evaluated["notification_topics"]) == sorted({n.topic for n in declared.values()})
    for topic in evaluated["notification_topics"]:
        rendered = _render({k: v for k, v in grant.items() if k != "for_each"}, topic, topic)
        assert rendered["topic"] == f'${{google_pubsub_topic.topic["{topic}"].name}}'
        assert rendered["role"] == "roles/pubsub.publisher"
        assert rendered["member"] == "serviceAccount:${data.google_storage_project_service_account.gcs.email_address}"
    assert resources["data.google_storage_project_service_account.gcs"]["project"] == "${var.project}"


def test_buckets_without_notify_get_no_notification(tmp_path):
    source = (ROOT / "infra" / "topology.yaml").read_text(encoding="utf-8")
    edited = source.replace(", notify: {topic: report-files, prefix: incoming/}}", "}")
    assert edited != source
    topology_path = tmp_path / "topology.yaml"
    topology_path.write_text(edited, encoding="utf-8")
    workdir = tmp_path / "eval"
    workdir.mkdir()

    evaluated = _evaluate_locals(workdir, "reports.tf", ["bucket_notifications", "notification_topics"],
                                 topology_path)

    assert evaluated == {"bucket_notifications": {}, "notification_topics": []}


def test_every_function_writing_or_reading_bigquery_may_run_jobs(resources, expanded, topology):
    """MERGE (publish_log, post_metrics), load jobs (reports) and queries (campaign numbers) are BigQuery
    jobs; without roles/bigquery.jobUser on the project each fails with "bigquery.jobs.create denied"."""
    grants = expanded["grants"]
    users = {name for name, fn in topology.functions.items() if fn.access.bigquery_tables or fn.access.bigquery_reads}
    assert {"status-poll", "analytics-fetch", "report-ingest", "api"} <= users
    for name in users:
        assert grants[f"{name}/project/bigquery-jobs"]["role"] == "roles/bigquery.jobUser"
    assert grants["api/table-read/campaign_daily_metrics"]["role"] == "roles/bigquery.dataViewer"


# --- a first apply on a fresh project (issue 12) ---------------------------------------------------------

def _top_level_block(text: str, header: str) -> str:
    """One top-level block of a .tf file, verbatim (terraform fmt puts its closing brace in column 0)."""
    found = re.search(rf"^{re.escape(header)} \{{\n.*?^\}}\n", text, re.M | re.S)
    assert found, f"no block {header}"
    return found.group(0)


def _evaluate_public_access(workdir: Path, public_access: str | None = None) -> dict:
    """functions.tf's public-access locals as Terraform computes them: module.topology plus the real
    `variable "public_access"` block (its validation included) and the locals block that reads it."""
    functions_tf = (TERRAFORM_DIR / "functions.tf").read_text(encoding="utf-8")
    (block,) = [b for b in re.findall(r"^locals \{\n.*?^\}\n", functions_tf, re.M | re.S) if "var.public_access" in b]
    variable = _top_level_block((TERRAFORM_DIR / "variables.tf").read_text(encoding="utf-8"), 'variable "public_access"')
    names = re.findall(r"^  (\w+)\s*=", block, re.M)
    inputs = {"topology_path": str(ROOT / "infra" / "topology.yaml"), "project": PROJECT,
              "project_number": PROJECT_NUMBER, "region": "europe-west1", "accounts": ACCOUNTS}
    (workdir / "main.tf").write_text(
        'module "topology" {\n  source = "%s"\n%s}\n' % (MODULE_DIR, "".join(f"  {k} = {json.dumps(v)}\n"
                                                                          for k, v in inputs.items()))
        + variable + block + "".join(f'output "{name}" {{\n  value = local.{name}\n}}\n' for name in names),
        encoding="utf-8")
    (workdir / "empty.tfrc").write_text("", encoding="utf-8")
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(workdir), "CHECKPOINT_DISABLE": "1",
           "TF_CLI_CONFIG_FILE": str(workdir / "empty.tfrc"), "TF_IN_AUTOMATION": "1"}
    apply = ["apply", "-input=false", "-auto-approve"]
    if public_access is not None:
        apply.append(f"-var=public_access={public_access}")
    for args in (["init", "-input=false", "-backend=false"], apply):
        done = subprocess.run(["terraform", f"-chdir={workdir}", *args], env=env, capture_output=True, text=True,
                              timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"terraform {args[0]} failed:\n{done.stderr}")
    out = subprocess.run(["terraform", f"-chdir={workdir}", "output", "-json"], env=env, capture_output=True,
                         text=True, timeout=120)
    return {name: value["value"] for name, value in json.loads(out.stdout).items()}


@pytest.fixture(scope="module")
def public_access(tmp_path_factory) -> dict[str, dict]:
    """Mode -> the evaluated public-access locals; "all_users" is what the variable's default gives."""
    return {"all_users": _evaluate_public_access(tmp_path_factory.mktemp("public-default")),
            "invoker_iam_disabled": _evaluate_public_access(tmp_path_factory.mktemp("public-iam-off"),
                                                            "invoker_iam_disabled")}


def _roles_in(for_each: str) -> set[str]:
    return set(re.findall(r'"(roles/[^"]+)"', for_each))


def _depends_on(block: dict) -> list[str]:
    return block.get("depends_on", [])


def test_function_builds_may_read_the_source_copy_in_the_gcf_v2_sources_bucket(resources):
    """Cloud Functions copies the zip into gcf-v2-sources-<number>-<region> (a bucket it creates on the first
    deploy) and the build fetches it there, so object read must be granted on the project, as the provider's
    builder example does; a grant on the function_sources bucket only fails the first build
    ("Access to bucket gcf-v2-sources-... denied", terraform-provider-google#20571)."""
    builder = "serviceAccount:${google_service_account.function_builder.email}"
    project_roles = set()
    for address, block in resources.items():
        if address.startswith("google_project_iam_member.") and block["member"] == builder:
            project_roles |= _roles_in(block["for_each"]) if block["role"] == "${each.value}" else {block["role"]}

    assert {"roles/logging.logWriter", "roles/artifactregistry.writer"} <= project_roles
    assert project_roles & {"roles/storage.objectViewer", "roles/storage.objectAdmin"}, (
        "the build account cannot read gcf-v2-sources-<number>-<region>")
    function = resources["google_cloudfunctions2_function.function"]
    assert _block(function, "build_config")["service_account"] == "${google_service_account.function_builder.id}"


def test_the_first_function_build_waits_for_the_build_account_grants_to_settle(resources):
    """The provider's builder example: "builder permissions need to stabilize" (time_sleep) before a function
    is created; IAM grants take a while to propagate."""
    waits = {address: block for address, block in resources.items() if address.startswith("time_sleep.")
             and "${google_project_iam_member.function_builder}" in _depends_on(block)}
    assert len(waits) == 1, "no time_sleep after the function build account's grants"
    ((address, wait),) = waits.items()
    seconds = re.fullmatch(r"(\d+)s", wait["create_duration"])
    assert seconds and int(seconds.group(1)) >= 60

    assert "${" + address + "}" in _depends_on(resources["google_cloudfunctions2_function.function"])
    with open(TERRAFORM_DIR / "versions.tf", encoding="utf-8") as fh:
        (providers,) = _clean(hcl2.load(fh))["terraform"][0]["required_providers"]
    assert providers["time"]["source"] == "hashicorp/time"


def _deploy_doc_section(title: str) -> str:
    text = (ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")
    start = text.index(title)
    following = re.search(r"^#{2,3} ", text[start + len(title):], re.M)
    return text[start:start + len(title) + following.start()] if following else text[start:]


def test_service_accounts_wait_for_the_apis_and_the_bootstrap_enables_iam(resources):
    """On a fresh project creating a service account races google_project_service unless it waits for it,
    and the IAM API must be on before the first apply (docs/deploy.md bootstrap) and enabled by Terraform."""
    accounts = [address for address in resources if address.startswith("google_service_account.")]
    assert {"google_service_account.function", "google_service_account.function_builder",
            "google_service_account.pubsub_push"} <= set(accounts)
    for address in accounts:
        assert "${google_project_service.required}" in _depends_on(resources[address]), (
            f"{address} does not wait for the API enablement")

    assert "iam.googleapis.com" in _parse_root_module()[1]["required_apis"]
    bootstrap = _deploy_doc_section("## 1. Bootstrap")
    enable = re.search(r"gcloud services enable ((?:[^\n]*\\\n)*[^\n]*)", bootstrap)
    assert enable and "iam.googleapis.com" in enable.group(1).split()


def test_grants_to_the_pubsub_service_agent_wait_until_the_agent_exists(resources):
    """The push token-creator grant (and the dead-letter grants) name service-<number>@gcp-sa-pubsub, which
    exists only once the Pub/Sub API is on and Google has made it: google_project_service_identity makes it."""
    identity = resources["google_project_service_identity.pubsub"]
    assert identity["service"] == "pubsub.googleapis.com"
    assert identity["provider"] in ("google-beta", "${google-beta}")  # the resource is in google-beta only
    assert "${google_project_service.required}" in _depends_on(identity)

    _, local_values = _parse_root_module()
    assert local_values["pubsub_service_agent"] == (
        "serviceAccount:service-${data.google_project.this.number}@gcp-sa-pubsub.iam.gserviceaccount.com")
    to_agent = [address for address, block in resources.items() if block.get("member") == "${local.pubsub_service_agent}"]
    assert "google_service_account_iam_member.pubsub_push_token_creator" in to_agent
    for address in to_agent:
        assert "${google_project_service_identity.pubsub}" in _depends_on(resources[address]), (
            f"{address} may run before the Pub/Sub service agent exists")


def test_cloud_build_runs_as_a_named_account_that_may_write_its_logs():
    """Since 2024 new projects build as the Compute Engine default account unless the build names one; a build
    with its own account logs to Cloud Logging only, so that account needs Logs Writer."""
    import yaml

    build = yaml.safe_load((ROOT / "cloudbuild.yaml").read_text(encoding="utf-8"))
    account = re.fullmatch(r"projects/\$PROJECT_ID/serviceAccounts/([a-z][a-z0-9-]{4,28}[a-z0-9])"
                           r"@\$PROJECT_ID\.iam\.gserviceaccount\.com", build.get("serviceAccount", ""))
    assert account, f"cloudbuild.yaml names no service account: {build.get('serviceAccount')!r}"
    assert build["options"]["logging"] == "CLOUD_LOGGING_ONLY"

    cloud_build = _deploy_doc_section("## 5. Cloud Build keeps it current")
    assert account.group(1) in cloud_build, "docs/deploy.md does not say how to create the build's account"
    roles = cloud_build[cloud_build.index("2. "):cloud_build.index("3. ")]
    assert "Logs Writer" in roles and "logging.logWriter" in roles


def test_public_functions_get_an_all_users_binding_by_default(resources, expanded, public_access, topology):
    public = sorted(name for name, fn in topology.functions.items() if fn.trigger.public)
    default = public_access["all_users"]

    assert sorted(default["all_users_invoker_functions"]) == public
    assert default["invoker_iam_disabled_functions"] == {}
    assert sorted(_all_users_invoked(resources, expanded, default)) == sorted(
        f'${{google_cloudfunctions2_function.function["{name}"].name}}' for name in public)
    assert _all_instances(resources, expanded, "terraform_data.invoker_iam_check_disabled", default) == {}


def test_public_functions_can_do_without_all_users_where_domain_restricted_sharing_refuses_it(
        resources, expanded, public_access, topology):
    """public_access = "invoker_iam_disabled": no allUsers binding anywhere; Cloud Run's invoker IAM check is
    turned off on each public function's service instead (signed links and bearer tokens stay the guard),
    set again whenever the function is redeployed and turned back on when the instance goes."""
    public = sorted(name for name, fn in topology.functions.items() if fn.trigger.public)
    disabled = public_access["invoker_iam_disabled"]

    assert disabled["all_users_invoker_functions"] == {}
    assert _all_users_invoked(resources, expanded, disabled) == []
    switches = _all_instances(resources, expanded, "terraform_data.invoker_iam_check_disabled", disabled)
    assert sorted(switches) == public == ["api", "approval-http"]
    for name, switch in switches.items():
        assert switch["input"]["service"] == f'${{google_cloudfunctions2_function.function["{name}"].name}}'
        assert switch["triggers_replace"] == [f'${{google_cloudfunctions2_function.function["{name}"].update_time}}']
        create, destroy = (p["local-exec"] for p in switch["provisioner"])
        service = "${self.input.service} --project=${self.input.project} --region=${self.input.region}"
        assert create["command"] == f"gcloud run services update {service} --no-invoker-iam-check --quiet"
        assert "when" not in create
        assert (destroy["when"], destroy["command"]) == (
            "destroy", f"gcloud run services update {service} --invoker-iam-check --quiet")
    # Cloud Build's apply step must have gcloud for that: it runs in the gcloud image.
    import yaml

    build = yaml.safe_load((ROOT / "cloudbuild.yaml").read_text(encoding="utf-8"))
    steps = {step["id"]: step for step in build["steps"]}
    assert steps["terraform-apply"]["name"] == "${_CLI_IMAGE}" == steps["lint"]["name"]
    assert any(e.startswith("PATH=/workspace/.bin:") for e in steps["terraform-apply"]["env"])


def test_public_access_accepts_only_its_two_modes(tmp_path):
    with pytest.raises(RuntimeError, match="public_access must be"):
        _evaluate_public_access(tmp_path, "allAuthenticatedUsers")


def _admits(constraint: str, version: tuple[int, int, int]) -> bool:
    """Whether a Terraform version constraint (=, !=, >, >=, <, <=, ~>) admits a version."""
    for part in constraint.split(","):
        op, number = re.fullmatch(r"\s*(~>|>=|<=|!=|=|>|<)?\s*(\d+(?:\.\d+){0,2})\s*", part).groups()
        wanted = tuple(int(n) for n in number.split("."))
        padded = wanted + (0,) * (3 - len(wanted))
        if op == "~>":
            upper = list(wanted[:-1]) if len(wanted) > 1 else [wanted[0]]
            upper[-1] += 1
            ok = padded <= version < tuple(upper) + (0,) * (3 - len(upper))
        else:
            ok = {None: version == padded, "=": version == padded, "!=": version != padded, ">": version > padded,
                  ">=": version >= padded, "<": version < padded, "<=": version <= padded}[op]
        if not ok:
            return False
    return True


def test_the_google_providers_are_pinned_to_one_major_version():
    """A constraint spanning two majors lets `terraform init` pick either, with their breaking changes; 7.x is
    the major the configuration was checked against (e.g. google_storage_notification's topic format)."""
    assert _admits("~> 7.0", (7, 45, 0)) and not _admits("~> 7.0", (8, 0, 0)) and not _admits("~> 7.0", (6, 9, 0))
    assert _admits(">= 6.0, < 8.0", (6, 1, 0)) and _admits(">= 6.0, < 8.0", (7, 0, 0))

    with open(TERRAFORM_DIR / "versions.tf", encoding="utf-8") as fh:
        (providers,) = _clean(hcl2.load(fh))["terraform"][0]["required_providers"]
    candidates = [(major, minor, 0) for major in range(4, 10) for minor in (0, 1, 9, 45, 99)]
    for name in ("google", "google-beta"):
        assert providers[name]["source"] == f"hashicorp/{name}"
        majors = {v[0] for v in candidates if _admits(providers[name]["version"], v)}
        assert majors == {7}, f"{name} {providers[name]['version']!r} admits majors {sorted(majors)}"
    assert providers["google"]["version"] == providers["google-beta"]["version"]


# --- the console (docs/console.md) --------------------------------------------------------------------

def test_the_console_url_is_its_functions_url_and_declared_path(expanded, topology):
    function, path = topology.route("console")
    assert expanded["console_url"] == f"https://europe-west1-{PROJECT}.cloudfunctions.net/{function}{path}"


def _check_variable(workdir: Path, name: str, value, outputs: dict[str, str] | None = None) -> dict:
    """Apply variables.tf's real `variable "<name>"` block (its validation included) with this value; with
    `outputs` (name -> an expression reading the variable), return what Terraform computes for each."""
    variable = _top_level_block((TERRAFORM_DIR / "variables.tf").read_text(encoding="utf-8"), f'variable "{name}"')
    (workdir / "main.tf").write_text(variable + "".join(f'output "{out}" {{\n  value = {expression}\n}}\n'
                                                        for out, expression in (outputs or {}).items()),
                                     encoding="utf-8")
    (workdir / "empty.tfrc").write_text("", encoding="utf-8")
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(workdir), "CHECKPOINT_DISABLE": "1",
           "TF_CLI_CONFIG_FILE": str(workdir / "empty.tfrc"), "TF_IN_AUTOMATION": "1"}
    (workdir / "input.tfvars.json").write_text(json.dumps({name: value}), encoding="utf-8")
    for args in (["init", "-input=false", "-backend=false"],
                 ["apply", "-input=false", "-auto-approve", "-var-file=input.tfvars.json"]):
        done = subprocess.run(["terraform", f"-chdir={workdir}", *args], env=env, capture_output=True, text=True,
                              timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"terraform {args[0]} failed:\n{done.stderr}")
    if not outputs:
        return {}
    done = subprocess.run(["terraform", f"-chdir={workdir}", "output", "-json"], env=env, capture_output=True,
                          text=True, timeout=120)
    return {out: entry["value"] for out, entry in json.loads(done.stdout).items()}


def test_a_deployment_cannot_turn_on_the_consoles_local_sign_in(tmp_path):
    with pytest.raises(RuntimeError, match="for the local stack only"):
        _check_variable(tmp_path, "function_environment", {"POSTGATE_CONSOLE_LOCAL_SIGN_IN": "true"})
    (tmp_path / "ok").mkdir()
    _check_variable(tmp_path / "ok", "function_environment", {"POSTGATE_NOTIFIER": "log"})


def test_the_console_oauth_client_id_must_be_a_google_client_id(tmp_path):
    with pytest.raises(RuntimeError, match="apps.googleusercontent.com"):
        _check_variable(tmp_path, "console_oauth_client_id", "my-client")
    (tmp_path / "ok").mkdir()
    _check_variable(tmp_path / "ok", "console_oauth_client_id", "1234-abc.apps.googleusercontent.com")


def test_only_buckets_taking_browser_uploads_answer_cors_and_only_for_the_consoles_origin(resources, expanded,
                                                                                          topology):
    buckets = instances(resources, expanded, "google_storage_bucket.topology")
    origin = re.match(r"https://[^/]+", expanded["console_url"]).group(0)
    for name, declared in topology.storage.buckets.items():
        cors = expanded["buckets"][name]["cors"]
        if not declared.browser_uploads:
            assert cors == [], name
            continue
        assert cors == [{"origin": [origin], "method": ["PUT"], "max_age_seconds": 3600,
                         "response_header": ["Content-Type", "x-goog-content-length-range"]}]
        dynamic = _block(buckets[name], "dynamic")["cors"]
        assert dynamic["for_each"] == cors  # the bucket's cors blocks are these, one each
    assert topology.storage.buckets["media"].browser_uploads  # the console's composer uploads there


def test_the_api_may_sign_the_composers_upload_urls_and_what_they_upload(topology):
    access = topology.functions[topology.route("console")[0]].access
    assert access.sign_urls and access.storage["media"] == "write"


# --- backups (docs/runbook.md#backups-and-restore) ------------------------------------------------------

def test_firestore_is_backed_up_every_day_and_kept_for_the_retention_variable(resources, tmp_path):
    """One daily backup schedule on the database Terraform manages; its retention is the variable's days as
    the Duration string Firestore takes ("<seconds>s"), computed by Terraform from the real expression."""
    schedules = {address: block for address, block in resources.items()
                 if address.startswith("google_firestore_backup_schedule.")}
    assert list(schedules) == ["google_firestore_backup_schedule.daily"]
    schedule = schedules["google_firestore_backup_schedule.daily"]
    assert schedule["database"] == "${google_firestore_database.default.name}"
    assert schedule["daily_recurrence"] == [{}] and "weekly_recurrence" not in schedule

    retention = json.dumps(schedule["retention"])  # an HCL template, e.g. "${var.x * 86400}s"
    for days, seconds in ((14, "1209600s"), (1, "86400s"), (98, "8467200s")):  # 98 days: Firestore's 14 weeks
        (tmp_path / str(days)).mkdir()
        computed = _check_variable(tmp_path / str(days), "firestore_backup_retention_days", days,
                                   outputs={"retention": retention})
        assert computed == {"retention": seconds}
    default = _top_level_block((TERRAFORM_DIR / "variables.tf").read_text(encoding="utf-8"),
                               'variable "firestore_backup_retention_days"')
    assert re.search(r"^  default\s+= 14$", default, re.M)


def test_the_backup_retention_is_refused_outside_what_firestore_keeps(tmp_path):
    """Firestore keeps a backup at most 14 weeks; a retention of 0, more than 98 days or part of a day is
    refused at plan time, before Google refuses it halfway through an apply."""
    for refused in (0, 99, 365, 7.5, -1):
        (tmp_path / f"refused-{refused}").mkdir()
        with pytest.raises(RuntimeError, match="from 1 to 98"):
            _check_variable(tmp_path / f"refused-{refused}", "firestore_backup_retention_days", refused)


def test_point_in_time_recovery_stays_on(resources):
    """PITR keeps every version of the last 7 days readable: the way back from a bad write made today, which
    a daily backup may not have seen yet (docs/runbook.md#backups-and-restore)."""
    database = resources["google_firestore_database.default"]
    assert database["point_in_time_recovery_enablement"] == "POINT_IN_TIME_RECOVERY_ENABLED"
    assert database["delete_protection_state"] == "DELETE_PROTECTION_ENABLED"


def test_each_buffer_configuration_gets_its_empty_key_secret_and_a_bad_id_is_refused(tmp_path):
    (tmp_path / "ok").mkdir()
    (tmp_path / "bad").mkdir()
    secrets = _evaluate_module(tmp_path / "ok", buffer_configs=["team", "Brand_2"])["secrets"]
    assert {"buffer-config-team", "buffer-config-Brand_2"} <= set(secrets)
    with pytest.raises(RuntimeError, match="Buffer configuration id"):
        _evaluate_module(tmp_path / "bad", buffer_configs=["no spaces"])


def test_the_api_may_write_buffer_keys_it_stores(topology):
    # POST /api/v1/buffer/config adds the key as a version of buffer-config-<id>: "rotate" grants that.
    assert topology.functions["api"].access.secret_prefixes.get("buffer-config-") == "rotate"
