"""Start bqemulator without network access.

Run with the bqemulator venv's interpreter (it pins protobuf 6, so it lives in .venv-bq, not the app venv):

    .venv-bq/bin/python infra/local/bqemu_offline.py start --rest-port 9050 --grpc-port 9060 --project test-project

bqemulator 1.4.0 runs `INSTALL spatial` at boot and refuses to start when the download fails (this machine can
reach only package registries, and no PyPI build of the extension matches its DuckDB). Skipping it loses only
GEOGRAPHY / ST_* functions, which Postgate does not use. The best-effort `INSTALL avro` is skipped too: offline it
only costs a failed download per start, and Avro load/extract jobs are not used either.
"""

import sys

from bqemulator.storage import engine

engine.DuckDBEngine._load_spatial = lambda self: None
engine.DuckDBEngine._load_format_extensions = lambda self: None

from bqemulator.cli import main  # noqa: E402  (import after the patch, as the CLI builds the engine)

if __name__ == "__main__":
    sys.exit(main())
