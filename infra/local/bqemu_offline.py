"""Start bqemulator without network access, with load jobs from uploads behaving as BigQuery's do.

Run with the bqemulator venv's interpreter (it pins protobuf 6, so it lives in .venv-bq, not the app venv):

    .venv-bq/bin/python infra/local/bqemu_offline.py start --rest-port 9050 --grpc-port 9060 --project test-project

bqemulator 1.4.0 runs `INSTALL spatial` at boot and refuses to start when the download fails (this machine can
reach only package registries, and no PyPI build of the extension matches its DuckDB). Skipping it loses only
GEOGRAPHY / ST_* functions, which Postgate does not use. The best-effort `INSTALL avro` is skipped too: offline it
only costs a failed download per start, and Avro load/extract jobs are not used either.

Load jobs from in-memory data (`Client.load_table_from_file` / `load_table_from_json`, the upload host
`/upload/bigquery/v2/projects/P/jobs`) differ from BigQuery in two ways that matter to Postgate's report loads
(shared/reports/loader.py); both are corrected below, in the upload routes only:

1. A multipart upload (the client's path for anything under 5 MB, so every `load_table_from_json`) was refused
   with 400 "multipart upload's second part has unsupported Content-Type '*/*'": google-cloud-bigquery always
   sends the media part as `*/*`, which BigQuery accepts. `*/*` is now accepted. (Resumable uploads, the path
   from 5 MB up or when no size is given, already worked.)
2. The upload host ignored the client's `jobReference.jobId` and minted `bqemu_<hex>`, so a job id could never
   collide. BigQuery keeps the client's id and refuses a second job with it (409 "Already Exists: Job ..."),
   which is what makes a redelivered load impossible to run twice. The upload's job now keeps the client's id,
   and a second job with the same id is refused with 409 before any row is loaded.
3. `statistics.load.outputRows` was the destination table's row count after the load, not the rows the job
   loaded. For newline-delimited JSON (one row per non-blank line) it is now the job's own row count.

Not corrected: the emulator loads a null into a REQUIRED column without error (BigQuery fails the job), so
report rows are validated before they are loaded (shared/reports/validation.py).
"""

import sys

from bqemulator.storage import engine

engine.DuckDBEngine._load_spatial = lambda self: None
engine.DuckDBEngine._load_format_extensions = lambda self: None


def _patch_upload_load_jobs() -> None:
    import contextvars

    from bqemulator.api.routes import upload
    from bqemulator.domain.errors import AlreadyExistsError

    client_job_id_key = "_postgate_client_job_id"  # rides inside the upload session's configuration
    minted: contextvars.ContextVar = contextvars.ContextVar("client_job_id", default=None)

    permitted = upload._is_permitted_media_type
    upload._is_permitted_media_type = lambda media_ct: media_ct == "*/*" or permitted(media_ct)

    configuration_of = upload._load_configuration_from_envelope

    def load_configuration_from_envelope(envelope):
        configuration = configuration_of(envelope)
        job_id = (envelope.get("jobReference") or {}).get("jobId")
        return {**configuration, client_job_id_key: job_id} if job_id else configuration

    new_job_id = upload._new_job_id
    upload._load_configuration_from_envelope = load_configuration_from_envelope
    upload._new_job_id = lambda: minted.get() or new_job_id()

    run_load = upload._run_load

    async def run_load_as_client_job(*, project_id, configuration, media_path, ctx):
        configuration = dict(configuration)
        job_id = configuration.pop(client_job_id_key, None)
        if job_id and ctx.catalog.get_job(project_id, job_id) is not None:
            raise AlreadyExistsError(f"Already Exists: Job {project_id}:US.{job_id}")
        token = minted.set(job_id)
        try:
            job_id, job_meta = await run_load(project_id=project_id, configuration=configuration,
                                              media_path=media_path, ctx=ctx)
        finally:
            minted.reset(token)
        if job_meta.error_result is None and (configuration.get("load") or {}).get("sourceFormat") == \
                "NEWLINE_DELIMITED_JSON":
            with open(media_path, "rb") as fh:
                rows = sum(1 for line in fh if line.strip())
            job_meta = job_meta.model_copy(update={"statistics": {
                **job_meta.statistics, "load": {**job_meta.statistics.get("load", {}), "outputRows": str(rows)}}})
            ctx.catalog.upsert_job(job_meta)
        return job_id, job_meta

    upload._run_load = run_load_as_client_job


_patch_upload_load_jobs()

from bqemulator.cli import main  # noqa: E402  (import after the patch, as the CLI builds the engine)

if __name__ == "__main__":
    sys.exit(main())
