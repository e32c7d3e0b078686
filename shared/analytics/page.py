"""The standalone campaign analytics page (GET /campaigns/{id}/analytics/page, opened with a view
link): the campaign's charts and tables (shared/analytics/charts.py) in a page of their own. No
script; one stylesheet, inline and allowed by its SHA-256 in the Content-Security-Policy: the page's
own few rules and the charts' stylesheet.
"""

from __future__ import annotations

import base64
import hashlib

from jinja2 import Environment, select_autoescape

from shared.analytics.campaign import CampaignNumbers
from shared.analytics.charts import CSS, numbers_html

_env = Environment(autoescape=select_autoescape(default=True, default_for_string=True), trim_blocks=True,
                   lstrip_blocks=True)

_PAGE_RULES = """
*{box-sizing:border-box}
body{font:16px/1.5 system-ui,-apple-system,"Segoe UI",sans-serif;max-width:60rem;margin:0 auto;padding:1rem;color:#1f2328}
h1{font-size:1.5rem;margin:.5rem 0;overflow-wrap:anywhere}h2{font-size:1.15rem;margin:1.5rem 0 .5rem}
.muted{color:#59636e}
"""
_STYLE = _PAGE_RULES + CSS


def _sha256(source: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(source.encode("utf-8")).digest()).decode() + "'"


def security_headers() -> dict[str, str]:
    """Only our hashed stylesheet; nothing else loads, runs, frames, caches, sniffs or refers."""
    csp = (f"default-src 'none'; style-src {_sha256(_STYLE)}; img-src 'none'; form-action 'none'; "
           "base-uri 'none'; frame-ancestors 'none'")
    return {"Content-Security-Policy": csp, "Referrer-Policy": "no-referrer", "X-Content-Type-Options": "nosniff",
            "X-Frame-Options": "DENY", "Cache-Control": "no-store", "Content-Type": "text/html; charset=utf-8"}


_PAGE = _env.from_string("""<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex"><meta name="referrer" content="no-referrer">
<title>{{ numbers.campaign }} analytics · Postgate</title><style>{{ style|safe }}</style></head>
<body>
<h1>Campaign {{ numbers.campaign }}</h1>
{{ body }}
</body></html>""")


def campaign_page(numbers: CampaignNumbers) -> str:
    return _PAGE.render(numbers=numbers, style=_STYLE, body=numbers_html(numbers, heading_level=2))
