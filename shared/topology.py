"""Typed view of infra/topology.yaml, the single declaration of topics, functions and tables."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

TOPOLOGY_PATH = Path(__file__).resolve().parent.parent / "infra" / "topology.yaml"
# Deployed functions carry shared/ but not infra/; the deploy step copies the file here.
_BUNDLED_PATH = Path(__file__).resolve().parent / "topology.yaml"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Topic(_Model):
    description: str = ""
    platform: str | None = None


class DeadLetter(_Model):
    suffix: str
    inspection_subscription_suffix: str
    message_retention_seconds: int


class Trigger(_Model):
    type: Literal["http", "pubsub"]
    topic: str | None = None
    public: bool = False


class Access(_Model):
    """What a function touches; infra/terraform grants its service account exactly this and no more."""

    firestore: Literal["read", "write"] | None = None
    storage: dict[str, Literal["read", "write"]] = {}
    publishes: list[str] = []
    secrets: list[str] = []
    secret_prefixes: dict[str, Literal["read", "rotate"]] = {}
    bigquery_tables: list[str] = []
    bigquery_reads: list[str] = []  # tables or views it only queries
    sign_urls: bool = False


class Function(_Model):
    source: str
    entry_point: str
    trigger: Trigger
    memory: str
    max_instances: int = Field(ge=1)
    timeout_seconds: int = Field(ge=1, le=3600)
    # Requests one instance serves at once (Cloud Run's max_instance_request_concurrency); the
    # instance runs as many request threads (THREADS). Above 1 Cloud Run needs at least one vCPU.
    concurrency: int = Field(default=1, ge=1, le=1000)
    cpu: str | None = Field(default=None, pattern=r"^\d+(\.\d+)?$")
    access: Access = Access()
    # HTTP front doors served under the function's URL besides its own routes: name -> path prefix
    # (the console under /console/). Terraform outputs each one's URL; the local stack prints it.
    routes: dict[str, Annotated[str, Field(pattern=r"^/[a-z0-9-]+/$")]] = {}

    @model_validator(mode="after")
    def _concurrency_has_a_cpu(self) -> Function:
        if self.concurrency > 1 and float(self.cpu or 0) < 1:
            raise ValueError(f"concurrency {self.concurrency} needs cpu of at least 1 (Cloud Run functions)")
        return self


class RetryPolicy(_Model):
    minimum_backoff_seconds: int = Field(ge=0, le=600)
    maximum_backoff_seconds: int = Field(ge=0, le=600)


class Subscription(_Model):
    topic: str
    push_function: str
    ack_deadline_seconds: int = Field(ge=10, le=600)
    retry_policy: RetryPolicy
    max_delivery_attempts: int = Field(ge=5, le=100)


class Schedule(_Model):
    cron: str
    time_zone: str
    topic: str
    payload: dict[str, Any]
    local_interval_seconds: float = Field(gt=0)


class Column(_Model):
    name: str
    type: str
    mode: Literal["REQUIRED", "NULLABLE", "REPEATED"] = "NULLABLE"


class Table(_Model):
    description: str = ""
    partition_field: str
    clustering: list[str] = []
    schema_: list[Column] = Field(alias="schema")


class View(_Model):
    """A BigQuery view; `query` names tables as `{dataset}.<table>` (filled in by each reader)."""

    description: str = ""
    query: str


class BigQuery(_Model):
    dataset: str
    tables: dict[str, Table]
    views: dict[str, View] = {}


class BucketNotification(_Model):
    """Cloud Storage publishes an OBJECT_FINALIZE notification to `topic` for objects under `prefix`."""

    topic: str
    prefix: str = ""


class Bucket(_Model):
    location: str
    delete_after_days: int
    notify: BucketNotification | None = None
    # The console's pages PUT files to it from the browser (V4 signed URLs): CORS for the console's origin.
    browser_uploads: bool = False


class Storage(_Model):
    buckets: dict[str, Bucket]


class FirestoreIndex(_Model):
    """A composite index; fields ascending unless named "<field> desc"."""

    collection: str
    fields: list[Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_.]*( desc)?$")]] = Field(min_length=2)


class FirestoreTtl(_Model):
    """Documents whose `field` (a timestamp) has passed are deleted by Firestore (within about a day)."""

    collection: str
    field: str


class Firestore(_Model):
    indexes: list[FirestoreIndex] = []
    ttl: list[FirestoreTtl] = []


# Service account ids are "<project_prefix>-<function>" and GCP allows at most 30 characters.
_SERVICE_ACCOUNT_ID_MAX = 30


class Topology(_Model):
    project_prefix: str
    topics: dict[str, Topic]
    dead_letter: DeadLetter
    functions: dict[str, Function]
    subscriptions: dict[str, Subscription]
    schedules: dict[str, Schedule]
    bigquery: BigQuery
    storage: Storage
    secrets: list[str] = []
    firestore: Firestore = Firestore()

    @model_validator(mode="after")
    def _references_resolve(self) -> Topology:
        problems = []
        for name, fn in self.functions.items():
            if len(f"{self.project_prefix}-{name}") > _SERVICE_ACCOUNT_ID_MAX:
                problems.append(f"function {name}: service account id {self.project_prefix}-{name} is over "
                                f"{_SERVICE_ACCOUNT_ID_MAX} characters")
            for secret in fn.access.secrets:
                if secret not in self.secrets:
                    problems.append(f"function {name}: secret {secret} is not declared under secrets")
            if fn.trigger.type == "pubsub" and fn.trigger.topic not in self.topics:
                problems.append(f"function {name}: unknown topic {fn.trigger.topic}")
            for topic in fn.access.publishes:
                if topic not in self.topics:
                    problems.append(f"function {name}: publishes to unknown topic {topic}")
            for bucket in fn.access.storage:
                if bucket not in self.storage.buckets:
                    problems.append(f"function {name}: unknown bucket {bucket}")
            for table in fn.access.bigquery_tables:
                if table not in self.bigquery.tables:
                    problems.append(f"function {name}: unknown table {table}")
            for table in fn.access.bigquery_reads:
                if table not in self.bigquery.tables and table not in self.bigquery.views:
                    problems.append(f"function {name}: reads unknown table or view {table}")
        served = [route for fn in self.functions.values() for route in fn.routes]
        for route in sorted({r for r in served if served.count(r) > 1}):
            problems.append(f"route {route} is served by more than one function")
        for name, fn in self.functions.items():
            if fn.routes and fn.trigger.type != "http":
                problems.append(f"function {name}: routes need an http trigger")
        for name, sub in self.subscriptions.items():
            if sub.topic not in self.topics:
                problems.append(f"subscription {name}: unknown topic {sub.topic}")
            pusher = self.functions.get(sub.push_function)
            if pusher is None or pusher.trigger.topic != sub.topic:
                problems.append(f"subscription {name}: push_function {sub.push_function} is not triggered by {sub.topic}")
        for name, sch in self.schedules.items():
            if sch.topic not in self.topics:
                problems.append(f"schedule {name}: unknown topic {sch.topic}")
        for name, bucket_spec in self.storage.buckets.items():
            if bucket_spec.notify and bucket_spec.notify.topic not in self.topics:
                problems.append(f"bucket {name}: notifies unknown topic {bucket_spec.notify.topic}")
        for name, table_spec in self.bigquery.tables.items():
            columns = {c.name for c in table_spec.schema_}
            for field in [table_spec.partition_field, *table_spec.clustering]:
                if field not in columns:
                    problems.append(f"table {name}: {field} is not a column")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def route(self, name: str) -> tuple[str, str]:
        """(function, path prefix) of a front door declared under a function's routes (e.g. "console")."""
        for function, spec in self.functions.items():
            if name in spec.routes:
                return function, spec.routes[name]
        raise KeyError(f"no function serves route {name!r} (infra/topology.yaml functions.*.routes)")

    def dead_letter_topic(self, topic: str) -> str:
        return topic + self.dead_letter.suffix

    def trigger_topic(self, function: str) -> str:
        """The topic a Pub/Sub-triggered function listens on (what to publish to, to reach it)."""
        topic = self.functions[function].trigger.topic
        if topic is None:
            raise KeyError(f"function {function!r} is not triggered by a topic")
        return topic

    def publish_topic(self, platform: str) -> str:
        for name, topic in self.topics.items():
            if topic.platform == platform:
                return name
        raise KeyError(f"no publish topic declared for platform {platform!r}")

    def subscription_for_function(self, function: str) -> tuple[str, Subscription]:
        for name, sub in self.subscriptions.items():
            if sub.push_function == function:
                return name, sub
        raise KeyError(f"no subscription pushes to {function!r}")


def load_topology(path: Path | None = None) -> Topology:
    if path is None:
        path = TOPOLOGY_PATH if TOPOLOGY_PATH.exists() else _BUNDLED_PATH
    with open(path, encoding="utf-8") as fh:
        return Topology.model_validate(yaml.safe_load(fh))


@lru_cache(maxsize=1)
def get_topology() -> Topology:
    return load_topology()
