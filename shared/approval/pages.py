"""HTML pages for the approval link. Autoescaped: generated captions are untrusted text."""

from __future__ import annotations

from jinja2 import Environment, select_autoescape

_env = Environment(autoescape=select_autoescape(default=True, default_for_string=True))

_BASE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="robots" content="noindex"><meta name="referrer" content="no-referrer">
<title>{{ title }} · Postgate</title>
<style>body{font-family:system-ui,sans-serif;max-width:42rem;margin:2rem auto;padding:0 1rem;color:#222}
.card{border:1px solid #ddd;border-radius:8px;padding:1rem;white-space:pre-wrap}
button{font-size:1rem;padding:.6rem 1.2rem;margin-right:.5rem;border-radius:6px;border:1px solid #888;cursor:pointer}
.approve{background:#1a7f37;color:#fff}.reject{background:#b42318;color:#fff}.muted{color:#666}</style></head>
<body><h1>{{ title }}</h1>{% block body %}{% endblock %}</body></html>"""

_CONFIRM = _BASE.replace("{% block body %}{% endblock %}", """
<p class="muted">Campaign <strong>{{ content.campaign }}</strong> · requested by {{ content.requested_by }} ·
version {{ content.version }}</p>
<h2>Post text</h2><div class="card">{{ content.text() }}</div>
{% if content.media %}<h2>Media</h2><ul>{% for m in content.media %}<li>{{ m.kind }}: {{ m.uri }} ({{ m.size }} bytes)</li>{% endfor %}</ul>{% endif %}
<h2>Will be posted to</h2><ul>{% for t in targets %}<li>{{ t.platform }} · {{ t.account_id }}{% if t.handle %} (@{{ t.handle }}){% endif %}
{% if t.privacy_level %} · privacy {{ t.privacy_level }}{% endif %}</li>{% endfor %}</ul>
<p>{% if content.publish_at %}Scheduled for {{ content.publish_at }}.{% else %}Publishes as soon as it is approved.{% endif %}
Platforms may take a few minutes to process a video after upload.</p>
<form method="post"><input type="hidden" name="token" value="{{ primary.token }}">
<input type="hidden" name="action" value="{{ primary.action }}">
<button class="{{ primary.action }}" type="submit">{{ primary.label }}</button></form>
<form method="post" style="margin-top:.5rem"><input type="hidden" name="token" value="{{ other.token }}">
<input type="hidden" name="action" value="{{ other.action }}">
<button class="{{ other.action }}" type="submit">{{ other.label }}</button></form>
<p class="muted">Nothing happens until you press a button. This link expires {{ expires_at }} UTC and works once.</p>""")

_RESULT = _BASE.replace("{% block body %}{% endblock %}", "<p>{{ message }}</p>")

_confirm = _env.from_string(_CONFIRM)
_result = _env.from_string(_RESULT)


def confirm_page(content, targets: list[dict], primary: dict, other: dict, expires_at: str) -> str:
    return _confirm.render(title="Review post", content=content, targets=targets, primary=primary, other=other,
                           expires_at=expires_at)


def result_page(title: str, message: str) -> str:
    return _result.render(title=title, message=message)
