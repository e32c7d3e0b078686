"""The API's interactive documentation at /docs: Swagger UI on the API's own OpenAPI document
(/openapi.json), served by the api function behind the console's CSP (no 'unsafe-inline', our own files
only).

Swagger UI is vendored (shared/console/static/swagger-ui: swagger-ui-dist from the npm registry at the
version the Makefile pins, with its Apache-2.0 licence) and served as a fingerprinted console static file;
the page starts it from static/api-docs.js, never inline script. Like /openapi.json, the page is public:
trying an operation asks for a bearer token (Authorize), kept in the page's memory only.
"""

from __future__ import annotations

import flask

from shared.console import render
from shared.console.site import add_headers, template_helpers
from shared.console.urls import here, relative

NAME = "api_docs"
DOCS_PATH = "/docs"
SPEC_PATH = "/openapi.json"  # shared/api/app.py serves it, without a bearer token


def install(app) -> str:
    """Add /docs to `app`; the blueprint's name (it asks for no credential, as /openapi.json does not)."""
    bp = flask.Blueprint(NAME, __name__)
    bp.after_request(add_headers)
    bp.context_processor(template_helpers)
    bp.add_url_rule(DOCS_PATH, "docs", docs_page)
    bp.add_url_rule(DOCS_PATH + "/", "docs_slash", lambda: flask.redirect("../docs", 308))
    app.register_blueprint(bp)
    return NAME


def docs_page():
    spec = relative(flask.request.script_root + SPEC_PATH, here())  # "openapi.json", beside this page
    return render.page("console/api_docs.html", title="API documentation", spec_url=spec)
