"""Create topics, subscriptions, buckets and tables on the emulators from infra/topology.yaml.

Nothing about topics or tables is typed here: everything comes from the topology. With
`function_urls`, each subscription pushes to its function (as in production); without, it is
a pull subscription that tests can read from.
"""

from __future__ import annotations

from shared.topology import Topology, get_topology


def provision(project: str, *, media_bucket: str, function_urls: dict[str, str] | None = None,
              topology: Topology | None = None, bq=None) -> None:
    from google.api_core.exceptions import AlreadyExists, Conflict
    from google.cloud import pubsub_v1
    from google.protobuf import duration_pb2

    topo = topology or get_topology()
    publisher = pubsub_v1.PublisherClient()
    subscriber = pubsub_v1.SubscriberClient()
    for topic in topo.topics:
        for name in (topic, topo.dead_letter_topic(topic)):
            try:
                publisher.create_topic(name=publisher.topic_path(project, name))
            except AlreadyExists:
                pass
        dlq_inspect = topo.dead_letter_topic(topic) + topo.dead_letter.inspection_subscription_suffix
        try:
            subscriber.create_subscription(name=subscriber.subscription_path(project, dlq_inspect),
                                           topic=publisher.topic_path(project, topo.dead_letter_topic(topic)))
        except AlreadyExists:
            pass
    for name, sub in topo.subscriptions.items():
        request = {
            "name": subscriber.subscription_path(project, name),
            "topic": publisher.topic_path(project, sub.topic),
            "ack_deadline_seconds": sub.ack_deadline_seconds,
            "retry_policy": {
                "minimum_backoff": duration_pb2.Duration(seconds=sub.retry_policy.minimum_backoff_seconds),
                "maximum_backoff": duration_pb2.Duration(seconds=sub.retry_policy.maximum_backoff_seconds),
            },
            "dead_letter_policy": {
                "dead_letter_topic": publisher.topic_path(project, topo.dead_letter_topic(sub.topic)),
                "max_delivery_attempts": sub.max_delivery_attempts,
            },
        }
        if function_urls and sub.push_function in function_urls:
            # The topic in the push path becomes the CloudEvent source, as Eventarc would set it.
            request["push_config"] = {"push_endpoint": f"{function_urls[sub.push_function]}/projects/{project}/topics/{sub.topic}"}
        try:
            subscriber.create_subscription(request=request)
        except AlreadyExists:
            pass

    from infra.local.emulators import local_bucket_name
    from shared.runtime.clients import storage_client

    gcs = storage_client(project)
    # The media bucket under the caller's name; every other topology bucket as Terraform names it.
    others = {local_bucket_name(project, name) for name in topo.storage.buckets if name != "media"}
    for bucket in {media_bucket} | others:
        try:
            gcs.create_bucket(bucket)
        except Conflict:
            pass

    if bq is not None:
        create_tables(bq, project, topo)


def create_tables(bq, project: str, topo: Topology) -> None:
    from google.api_core.exceptions import Conflict
    from google.cloud import bigquery

    dataset = bigquery.Dataset(f"{project}.{topo.bigquery.dataset}")
    try:
        bq.create_dataset(dataset)
    except Conflict:
        pass
    for name, table in topo.bigquery.tables.items():
        t = bigquery.Table(f"{project}.{topo.bigquery.dataset}.{name}",
                           schema=[bigquery.SchemaField(c.name, c.type, mode=c.mode) for c in table.schema_])
        t.time_partitioning = bigquery.TimePartitioning(type_=bigquery.TimePartitioningType.DAY, field=table.partition_field)
        t.clustering_fields = table.clustering or None
        t.description = table.description
        try:
            bq.create_table(t)
        except Conflict:
            pass
    create_views(bq, project, topo)


def view_query(topo: Topology, project: str, name: str) -> str:
    """The view's SQL with `{dataset}` filled in, as Terraform fills it (infra/terraform/modules/topology)."""
    return topo.bigquery.views[name].query.replace("{dataset}", f"{project}.{topo.bigquery.dataset}")


def create_views(bq, project: str, topo: Topology) -> None:
    """Each declared view (bqemulator runs views: tables.insert with `view.query`, standard SQL). An
    existing view gets the topology's current query, so a changed declaration reaches a kept stack."""
    from google.api_core.exceptions import Conflict
    from google.cloud import bigquery

    for name, view in topo.bigquery.views.items():
        table = bigquery.Table(f"{project}.{topo.bigquery.dataset}.{name}")
        table.view_query = view_query(topo, project, name)
        table.view_use_legacy_sql = False
        table.description = view.description
        try:
            bq.create_table(table)
        except Conflict:
            bq.update_table(table, ["view_query", "description"])
