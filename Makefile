# Postgate: `make up` runs it locally with demo data (Ctrl-C stops it); `make demo` runs the pipeline once; `make test` runs the test suite.
PYTHON ?= python3
VENV := .venv
BQ_VENV := .venv-bq
LINT_VENV := .venv-lint
LOAD_VENV := .venv-load
TERRAFORM ?= terraform
PY := $(VENV)/bin/python
export PYTHONPATH := $(CURDIR)

.PHONY: venv browser axe swagger-ui demo test test-fast lint emulators-check soak bench loadtest smoke clean

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check -r requirements-dev.txt
	touch $@

# bqemulator pins protobuf 6, so it lives in its own venv (see infra/local/bqemu_offline.py).
$(BQ_VENV)/.installed:
	$(PYTHON) -m venv $(BQ_VENV)
	$(BQ_VENV)/bin/pip install -q --disable-pip-version-check bqemulator==1.4.0 numpy
	touch $@

# checkov pins much of its dependency tree too, so it also gets a venv of its own.
$(LINT_VENV)/.installed:
	$(PYTHON) -m venv $(LINT_VENV)
	$(LINT_VENV)/bin/pip install -q --disable-pip-version-check checkov==3.3.30
	touch $@

# locust pins gevent, Flask and friends of its own: its own venv too (infra/local/loadtest_locust.py imports no project code).
$(LOAD_VENV)/.installed:
	$(PYTHON) -m venv $(LOAD_VENV)
	$(LOAD_VENV)/bin/pip install -q --disable-pip-version-check locust==2.47.0
	touch $@

# The `postgate` operator CLI (shared/cli) as a command in the venv: a launcher that runs this checkout's code.
$(VENV)/bin/postgate: $(VENV)/.installed
	printf '#!/bin/sh\n# postgate: the operator CLI (shared/cli) of the checkout at %s\nPYTHONPATH="%s$${PYTHONPATH:+:$$PYTHONPATH}" exec "%s" -m shared.cli "$$@"\n' \
		"$(CURDIR)" "$(CURDIR)" "$(CURDIR)/$(PY)" > $@.tmp
	chmod +x $@.tmp
	mv $@.tmp $@

venv: $(VENV)/.installed $(BQ_VENV)/.installed $(VENV)/bin/postgate

# The local stack with demo data (accounts, a campaign, posts in every state) for trying the console, the API
# and the CLI; prints where everything is and runs until Ctrl-C (docs/local.md).
.PHONY: up
up: venv
	$(PY) -m infra.local.up

demo: venv
	$(PY) -m infra.local.demo

# Debian's Chromium and its matching chromedriver for the real-browser tests (tests/browser.py).
# Installed only when missing; the demo does not need them.
BROWSER_PACKAGES := chromium chromium-driver
browser:
	@if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then SUDO=; \
	elif command -v sudo >/dev/null; then SUDO=sudo; \
	else echo "browser: /usr/bin/chromium or /usr/bin/chromedriver is missing; run as root (or install sudo) to apt-get install $(BROWSER_PACKAGES)" >&2; exit 1; fi; \
	echo "browser: installing $(BROWSER_PACKAGES) from Debian"; \
	$$SUDO apt-get update -qq && \
	$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(BROWSER_PACKAGES)

# axe-core, the accessibility engine the browser tests inject into Chromium (tests/axe.py), from the npm
# registry at a pinned version whose tarball must match the registry's integrity hash; unpacked (axe.min.js,
# its MPL-2.0 LICENSE, package.json) into the git-ignored .cache/axe-core. Not shipped with any function.
AXE_VERSION := 4.14.1
AXE_INTEGRITY := sha512-FHfa+lmNjQZfJz1q8wKqIDwC6DExcHt/pkjNQb09a3NPjCKg2rhu5qb2S4r76ASyFNNtuFooJpZe37OgudVGtQ==
AXE_DIR := .cache/axe-core
$(AXE_DIR)/.version-$(AXE_VERSION):
	rm -rf $(AXE_DIR) && mkdir -p $(AXE_DIR)
	cd $(AXE_DIR) && npm pack --silent axe-core@$(AXE_VERSION) >/dev/null
	@got="sha512-$$(openssl dgst -sha512 -binary $(AXE_DIR)/axe-core-$(AXE_VERSION).tgz | base64 -w0)"; \
	if [ "$$got" != "$(AXE_INTEGRITY)" ]; then echo "axe: axe-core-$(AXE_VERSION).tgz is $$got, expected $(AXE_INTEGRITY)" >&2; exit 1; fi
	tar -xzf $(AXE_DIR)/axe-core-$(AXE_VERSION).tgz -C $(AXE_DIR) --strip-components=1 \
		package/axe.min.js package/LICENSE package/package.json
	rm $(AXE_DIR)/axe-core-$(AXE_VERSION).tgz
	touch $@
axe: $(AXE_DIR)/.version-$(AXE_VERSION)

# Swagger UI, the API's interactive documentation at /docs (shared/console/api_docs.py): swagger-ui-dist from the
# npm registry at a pinned version whose tarball must match the registry's integrity hash. Vendored, not cached:
# its bundle, stylesheet, Apache-2.0 licence, bundled licences and package.json are committed under
# shared/console/static/swagger-ui, because a function's zip holds shared/ as the checkout has it and nothing is
# built at deploy time. Run this after changing the pin; on the same pin it writes the same bytes (no git diff).
SWAGGER_UI_VERSION := 5.36.0
SWAGGER_UI_INTEGRITY := sha512-Lt6/Kb0gXmLdiabLhvso4VdJP9V7qJWB0zh0gzeXUV3+CMOTzMmvpJRSXN7EAjfwixwmoi9ezDbLHiexC7lA9A==
SWAGGER_UI_DIR := shared/console/static/swagger-ui
SWAGGER_UI_FILES := swagger-ui-bundle.js swagger-ui-bundle.js.LICENSE.txt swagger-ui.css LICENSE package.json
swagger-ui:
	rm -rf .cache/swagger-ui && mkdir -p .cache/swagger-ui
	cd .cache/swagger-ui && npm pack --silent swagger-ui-dist@$(SWAGGER_UI_VERSION) >/dev/null
	@got="sha512-$$(openssl dgst -sha512 -binary .cache/swagger-ui/swagger-ui-dist-$(SWAGGER_UI_VERSION).tgz | base64 -w0)"; \
	if [ "$$got" != "$(SWAGGER_UI_INTEGRITY)" ]; then echo "swagger-ui: swagger-ui-dist-$(SWAGGER_UI_VERSION).tgz is $$got, expected $(SWAGGER_UI_INTEGRITY)" >&2; exit 1; fi
	rm -rf $(SWAGGER_UI_DIR) && mkdir -p $(SWAGGER_UI_DIR)
	tar -xzf .cache/swagger-ui/swagger-ui-dist-$(SWAGGER_UI_VERSION).tgz -C $(SWAGGER_UI_DIR) --strip-components=1 \
		$(addprefix package/,$(SWAGGER_UI_FILES))
	rm -rf .cache/swagger-ui

test: venv browser axe
	$(PY) -m pytest -q tests

# The quick loop: every test that needs no emulator, local stack or Chromium (tests/conftest.py marks the rest `stack`).
test-fast: $(VENV)/.installed
	$(PY) -m pytest -q -m "not stack" tests

# Offline checks: no provider is downloaded. --skip-download keeps checkov from calling home.
lint: $(VENV)/.installed $(LINT_VENV)/.installed
	$(PY) -c "from shared.topology import load_topology; load_topology()"
	$(PY) -m ruff check shared functions infra tests
	$(PY) -m mypy
	$(PY) -m pytest -q tests/test_layers.py  # the written layer order (docs/design.md#layers)
	@if command -v $(TERRAFORM) >/dev/null; then \
		$(TERRAFORM) fmt -check -recursive infra/terraform && echo "terraform fmt: ok"; \
	else \
		echo "lint: SKIPPED terraform fmt -check: no terraform binary on PATH (checkov and tests still run)"; \
	fi
	$(LINT_VENV)/bin/checkov -d infra/terraform --framework terraform --skip-download --compact --quiet
	bash -n .ci/run

emulators-check: venv
	$(PY) -m infra.local.emulators --check

# The backup drill on the local stack, seeded as `make up` seeds it: Firestore exported, wiped, imported, and every
# document compared field by field with its type; exits 1 on any difference (docs/local.md#the-backup-drill).
# More options: BACKUP_DRILL_ARGS="--copies 100" (the seeded documents copied that many times, for volume).
BACKUP_DRILL_ARGS ?=
.PHONY: backup-drill
backup-drill: venv
	$(PY) -m infra.local.backup_drill $(BACKUP_DRILL_ARGS)

# Benchmark, not part of `make test`: N approved posts over the five platform sandboxes, every publish
# message delivered three times, ~20 % injected faults; exits 1 on any double, lost, failed-but-live,
# unsettled post or extra publish_log row. `make soak N=200`; more options: SOAK_ARGS="--seed 7 --workers 32".
N ?= 1000
SOAK_ARGS ?=
soak: venv
	$(PY) -m infra.local.soak --posts $(N) $(SOAK_ARGS)

# Benchmark of one whole analytics pull (fan-out + every work message) over N published posts across the
# five sandboxes: metrics calls per platform against ceil(N_p / batch size), wall time, post_metrics rows,
# Firestore reads and writes per post. Exits 1 if a platform needs more calls than the minimum.
# Then the cold start of every function: its entry module's import time next to a bare `import functions_framework`
# (infra/local/coldstart.py; prints only, COLDSTART_ARGS="--max-ratio 1.15" makes it a gate).
# Then the YouTube catalogue: quota units and calls of importing a 5,000-video channel and of a refresh where
# nothing changed, counted against the sandbox (infra/local/catalogue_bench.py; exits 1 off the documented maxima).
BENCH_ARGS ?=
COLDSTART_ARGS ?=
bench: venv
	$(PY) -m infra.local.bench --posts 100 1000 $(BENCH_ARGS)
	$(PY) -m infra.local.coldstart $(COLDSTART_ARGS)
	$(PY) -m infra.local.console_bench $(CONSOLE_BENCH_ARGS)
	$(PY) -m infra.local.catalogue_bench $(CATALOGUE_BENCH_ARGS)

# Benchmark, not part of `make test`: 20 locust users for 60 s against the api of the local stack (127.0.0.1 only):
# list, calendar, campaigns, create, approve, reschedule one hot post, 50 live-status streams held, one user
# sending 20 parallel changes to the hot post; prints count, errors and p50/p95/p99 per operation and the other
# users' latency. More options: LOADTEST_ARGS="--seconds 120 --users 20 --streams 50".
LOADTEST_ARGS ?=
loadtest: venv $(LOAD_VENV)/.installed
	$(PY) -m infra.local.loadtest $(LOADTEST_ARGS)

# Post-deploy smoke check of a deployed project; publishes nothing (docs/deploy.md#7-smoke-check-after-a-deploy):
# `make smoke PROJECT=my-project REGION=europe-west1`; more options: SMOKE_ARGS="--url api=https://..." (see --help).
SMOKE_ARGS ?=
smoke: $(VENV)/.installed
	@if [ -z "$(PROJECT)" ] || [ -z "$(REGION)" ]; then echo "usage: make smoke PROJECT=<project id> REGION=<region> [SMOKE_ARGS=...]" >&2; exit 2; fi
	$(PY) -m infra.smoke --project "$(PROJECT)" --region "$(REGION)" $(SMOKE_ARGS)

clean:
	rm -rf $(VENV) $(BQ_VENV) $(LINT_VENV) $(LOAD_VENV) .pytest_cache infra/terraform/.build .cache
