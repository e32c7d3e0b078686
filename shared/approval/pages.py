"""The approval link's answers: every HTML page (review, outcome, refusal) with its status, and the
security headers every approval response carries. The only place approval HTML is made: the
decision code returns results or raises refusals, and these pages render them. What a post will
look like on each platform is a template file (templates/approval/post_preview.html) that the
console's approval queue renders too.

Autoescaped (generated captions are untrusted text). The one stylesheet and the one script are
inline and allowed by their SHA-256 in the Content-Security-Policy, so no other script can run.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from jinja2 import Environment, FileSystemLoader, Template, select_autoescape

from shared.approval.refusals import (
    DecisionBusy,
    MediaChangedSinceShown,
    MediaGone,
    NothingToDecide,
    PlatformWouldRefuse,
    Refusal,
    TokenRefused,
)
from shared.model.account import Account
from shared.model.platform import account_platform_name

if TYPE_CHECKING:  # annotations only: the models load pydantic, which this module's importers leave out
    from shared.model.content import ContentItem
    from shared.model.post import Post

# The markup shared with the console's approval queue (what a post will look like on each platform)
# lives in files here: templates/approval/post_preview.html.
TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
_env = Environment(loader=FileSystemLoader(TEMPLATES_DIR),
                   autoescape=select_autoescape(default=True, default_for_string=True))

_STYLE = """
*{box-sizing:border-box}
body{font:16px/1.5 system-ui,-apple-system,"Segoe UI",sans-serif;max-width:46rem;margin:0 auto;padding:1rem;color:#1f2328;
overflow-wrap:anywhere}
h1{font-size:1.5rem;margin:.5rem 0}h2{font-size:1.15rem;margin:1.5rem 0 .5rem}h3{font-size:1rem;margin:0 0 .5rem}
.muted{color:#59636e}.card,.target{border:1px solid #d1d9e0;border-radius:8px;padding:.75rem 1rem;margin:.75rem 0}
.text{white-space:pre-wrap;background:#f6f8fa;border-radius:6px;padding:.5rem .75rem;margin:.5rem 0}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.25rem .75rem;margin:.5rem 0}dt{color:#59636e}dd{margin:0}
.media{display:grid;grid-template-columns:repeat(auto-fill,minmax(min(100%,14rem),1fr));gap:.75rem}
figure{margin:0}figcaption{font-size:.875rem;color:#59636e}
.media-preview{display:block;width:100%;max-height:20rem;object-fit:contain;background:#eee;border-radius:6px}
form{margin:1rem 0}textarea{width:100%;font:inherit;min-height:4rem;padding:.5rem}
button{font:inherit;padding:.7rem 1.2rem;border-radius:6px;border:1px solid #888;cursor:pointer;min-height:44px}
.approve{background:#1a7f37;color:#fff;border-color:#1a7f37}.reject{background:#b42318;color:#fff;border-color:#b42318}
.problem{border-left:4px solid #b42318;padding-left:.75rem}
"""

# Reads the token from the URL fragment (never sent to any server, so never in a request log),
# clears it from the address bar and history, and POSTs it with the browser's time zone.
_SCRIPT = """
(function () {
  var token = new URLSearchParams(location.hash.slice(1)).get("token");
  history.replaceState(null, "", location.pathname + location.search);
  var form = document.getElementById("open-review");
  if (!token) {
    document.getElementById("status").textContent =
      "This link is incomplete: it has no token. Open the whole link from your message.";
    return;
  }
  form.elements.token.value = token;
  var zone = "UTC";
  try { zone = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC"; } catch (e) {}
  form.elements.tz.value = zone;
  form.submit();
})();
"""


def _sha256(source: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(source.encode("utf-8")).digest()).decode() + "'"


_BASE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex"><meta name="referrer" content="no-referrer">
<title>{{ title }} · Postgate</title><style>""" + _STYLE + """</style></head>
<body><h1>{{ title }}</h1>{% block body %}{% endblock %}</body></html>"""


class PageTemplate:
    """A page template compiled on its first render, not at import: compiling them all is ~10 ms of
    every approval function's cold start, and most requests render one page or none."""

    def __init__(self, source: str):
        self._source = source
        self._compiled: Template | None = None

    def render(self, **context) -> str:
        if self._compiled is None:  # two threads may both compile it once: harmless
            self._compiled = _env.from_string(self._source)
        return self._compiled.render(**context)


def page_template(body: str) -> PageTemplate:
    """A page with the approval pages' head, style and title; `body` is the Jinja body block."""
    return PageTemplate(_BASE.replace("{% block body %}{% endblock %}", body))


_SHELL = page_template("""<p id="status">Opening the post for review…</p>
<noscript><p class="problem">This page needs JavaScript to read the link (the link keeps its key in the part after
#, which is never sent to a server). Turn JavaScript on and open the link again.</p></noscript>
<form id="open-review" method="post"><input type="hidden" name="step" value="review">
<input type="hidden" name="token" value=""><input type="hidden" name="tz" value=""></form>
<script>""" + _SCRIPT + """</script>""")

_REVIEW = page_template("""{% from "approval/post_preview.html" import post_preview %}
<p class="muted">Campaign <strong>{{ content.campaign }}</strong> · requested by {{ content.requested_by }} ·
version {{ content.version }}</p>
{{ post_preview(when, media, cards) }}
<form method="post"><input type="hidden" name="token" value="{{ approve_token }}">
<input type="hidden" name="tz" value="{{ tz }}">
<button class="approve" type="submit" name="action" value="approve">Approve and publish</button></form>
<form method="post"><input type="hidden" name="token" value="{{ reject_token }}">
<input type="hidden" name="tz" value="{{ tz }}">
<label for="reason">Reason for rejecting (optional; {{ content.requested_by }} sees it)</label>
<textarea id="reason" name="reason" maxlength="1000"></textarea>
<button class="reject" type="submit" name="action" value="reject">Reject</button></form>
<p class="muted">Nothing happens until you press a button. This link expires {{ expires }} and works once.
Platforms may take a few minutes to process a video after upload.</p>""")

_RESULT = page_template("""<p>{{ message }}</p>
{% if recap %}<h2>{{ recap_title }}</h2><ul class="recap">{% for line in recap %}<li>{{ line }}</li>{% endfor %}</ul>{% endif %}
{% if note %}<p class="muted">{{ note }}</p>{% endif %}""")


@dataclass(frozen=True)
class Page:
    """An HTML answer: the markup and the origins its media may load from (for the CSP)."""

    html: str
    media_origins: tuple[str, ...] = ()


def security_headers(media_origins: tuple[str, ...] = ()) -> dict[str, str]:
    """Every approval response, errors included: nothing framed, cached, sniffed or referred, and
    only our own hashed style and script run; media only from the signed-URL origins."""
    media = " ".join(sorted(set(media_origins))) or "'none'"
    csp = (f"default-src 'none'; script-src {_sha256(_SCRIPT)}; style-src {_sha256(_STYLE)}; img-src {media}; "
           f"media-src {media}; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
    return {"Content-Security-Policy": csp, "Referrer-Policy": "no-referrer", "X-Content-Type-Options": "nosniff",
            "X-Frame-Options": "DENY", "Cache-Control": "no-store", "Content-Type": "text/html; charset=utf-8"}


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def zone_or_utc(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name) if name else ZoneInfo("UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def when_text(at: datetime | None, zone: ZoneInfo) -> str:
    """The approver's local time with UTC beside it (the two agree on the instant, not the wall clock)."""
    if at is None:
        return "As soon as it is approved."
    at = at if at.tzinfo else at.replace(tzinfo=UTC)
    local, utc = at.astimezone(zone), at.astimezone(UTC)
    if zone.key == "UTC":
        return f"{utc:%a %d %b %Y, %H:%M} UTC"
    return f"{local:%a %d %b %Y, %H:%M} {zone.key} ({utc:%a %d %b %H:%M} UTC)"


def size_text(size: int) -> str:
    for unit, scale in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size} bytes"


def shell_page() -> Page:
    return Page(_SHELL.render(title="Review post"))


def review_page(**context) -> Page:
    media_origins = tuple(origin_of(m["url"]) for m in context.get("media", []))
    return Page(_REVIEW.render(title="Review post", **context), media_origins)


def result_page(title: str, message: str, *, recap: list[str] | None = None, recap_title: str = "",
                note: str | None = None) -> str:
    return _RESULT.render(title=title, message=message, recap=recap or [], recap_title=recap_title, note=note)


@dataclass
class PageResult:
    """The approval function's answer: status and page, and for a recorded decision what the
    function does next (publish the due posts, tell the requester of a rejection)."""

    status: int
    html: str
    decision: str | None = None
    due_posts: list[Post] = field(default_factory=list)
    media_origins: tuple[str, ...] = ()
    retry_after: int | None = None
    content: ContentItem | None = None  # the item decided on


def shell() -> PageResult:
    """GET without a token: the page whose script reads the token from the fragment and POSTs it."""
    return PageResult(200, shell_page().html)


def not_allowed() -> PageResult:
    return PageResult(405, result_page("Not allowed", "Use the buttons on the review page."))


def no_token() -> PageResult:
    return PageResult(400, result_page("Link not usable", "This link is incomplete: it has no token."))


def unknown_action() -> PageResult:
    return PageResult(400, result_page("Link not usable", "Unknown action."))


def refused(refusal: Refusal) -> PageResult:
    """A refusal's page: the status and title its kind calls for, and its own sentence."""
    if isinstance(refusal, TokenRefused):
        status, title = (410 if refusal.reason == "expired" else 403), "Link not usable"
    elif isinstance(refusal, NothingToDecide):
        status, title = 409, "Nothing to decide"
    elif isinstance(refusal, MediaGone):
        status, title = 409, "The media is gone"
    elif isinstance(refusal, MediaChangedSinceShown):
        status, title = 409, "The media changed"
    elif isinstance(refusal, PlatformWouldRefuse):
        status, title = 422, "Can't be approved as it is"
    elif isinstance(refusal, DecisionBusy):
        return PageResult(503, result_page("Busy, nothing recorded", refusal.message), retry_after=refusal.retry_after)
    else:
        status, title = 409, "Nothing recorded"
    return PageResult(status, result_page(title, refusal.message))


def review_answer(content: ContentItem, *, cards: list[dict], media: list[dict], approve_token: str,
                  reject_token: str, expires_at: datetime, tz: str | None) -> PageResult:
    """The review page, its times in the approver's zone `tz` (UTC when unknown)."""
    zone = zone_or_utc(tz)
    page = review_page(content=content, cards=cards, media=media, when=when_text(content.publish_at, zone),
                       tz=zone.key, approve_token=approve_token, reject_token=reject_token,
                       expires=when_text(expires_at, zone))
    return PageResult(200, page.html, media_origins=page.media_origins)


def decided_answer(content: ContentItem, decision: str, reason: str | None, due: list[Post], scheduled: list[Post],
                   accounts: Mapping[str, Account], tz: str | None) -> PageResult:
    """What was decided, and for an approval where and when each post goes (`accounts` by id)."""
    return PageResult(200, _decision_page(content, decision, reason, due, scheduled, accounts, zone_or_utc(tz)),
                      decision=decision, due_posts=due, content=content)


def _decision_page(content: ContentItem, decision: str, reason: str | None, due: list[Post], scheduled: list[Post],
                   accounts: Mapping[str, Account], zone: ZoneInfo) -> str:
    if decision == "rejected":
        return result_page("Rejected", REJECTED_MESSAGE, note=rejected_note(content, reason))
    return result_page("Approved", approved_message(content, due, scheduled),
                       recap=decision_recap(due, scheduled, accounts, zone), recap_title="Where and when",
                       note="Platforms may take a few minutes to process a video. You can close this page.")


REJECTED_MESSAGE = "Rejected. Nothing will be published."


def rejected_note(content: ContentItem, reason: str | None) -> str:
    return f"Reason recorded for {content.requested_by}: {reason}" if reason else "No reason was given."


def approved_message(content: ContentItem, due: list[Post], scheduled: list[Post]) -> str:
    return (f"Approved version {content.version} of the post for campaign “{content.campaign}”. "
            f"{len(due)} post(s) are on their way now" + (f", {len(scheduled)} scheduled" if scheduled else "") + ".")


def decision_recap(due: list[Post], scheduled: list[Post], accounts: Mapping[str, Account], zone: ZoneInfo) -> list[str]:
    """Where and when each approved post goes, one line each (`accounts` by id)."""
    recap = []
    for post in [*due, *scheduled]:
        account = accounts.get(post.account_id, {})
        handle = account.get("handle")
        platform = account_platform_name(post.platform, account.get("buffer_service"))
        where = f"{platform} · {'@' + str(handle).lstrip('@') if handle else post.account_id}"
        when = "publishing now" if post.status == "queued" else f"scheduled for {when_text(post.scheduled_at, zone)}"
        recap.append(f"{where}: {when}")
    return recap
