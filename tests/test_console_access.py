"""Who gets into the console and what every answer carries: sessions, sign-in (local and Google),
CSRF, roles, headers (Flask test client on the api function, the emulators behind it)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from urllib.parse import parse_qs, urljoin

import pytest

from tests.conftest import bearer, brief, upload_video
from tests.console_support import (
    APPROVER,
    CLIENT_ID,
    EDITOR,
    api_client,
    csrf_of,
    google_id_token,
    set_up_console,
    sign_in_locally,
    stand_in_google_certs,
)

PAGES = ["/console/queue", "/console/calendar", "/console/compose", "/console/accounts", "/console/campaigns",
         "/console/youtube"]


@pytest.fixture
def console(env, monkeypatch):
    """The api function with the console as the local stack sets it up (local sign-in on)."""
    key = set_up_console(monkeypatch)
    client = api_client()
    client.session_key = key
    yield client
    monkeypatch.undo()


def _html(answer) -> str:
    return answer.get_data(as_text=True)


def _lands_on(answer, path: str) -> bool:
    """A 303 whose (relative) Location resolves to `path` from the URL the request went to."""
    target = urljoin(answer.request.path, answer.headers.get("Location", ""))
    return answer.status_code == 303 and target == path


def _cookie(answer) -> str:
    [cookie] = [v for k, v in answer.headers.items() if k == "Set-Cookie" and v.startswith("__Host-postgate-console=")]
    return cookie


# --- a session is required ------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/console/", "/console", *PAGES, "/console/no-such-page"])
def test_a_page_without_a_session_redirects_to_sign_in_with_the_page_as_next(console, path):
    answer = console.get(path + "?campaign=launch")
    assert answer.status_code == 303
    location = answer.headers["Location"]
    assert not location.startswith(("/", "http")), f"a relative reference works behind any prefix: {location}"
    where, _, query = location.partition("?")
    assert where.endswith("sign-in") and parse_qs(query) == {"next": [path + "?campaign=launch"]}, location


def test_a_post_without_a_session_goes_to_sign_in_and_changes_nothing(console):
    answer = console.post("/console/sign-out", data={})
    assert answer.status_code == 303 and answer.headers["Location"] == "sign-in"


def test_local_sign_in_lands_on_the_next_page_with_the_user_and_role_shown(console):
    answer = sign_in_locally(console, APPROVER, next_path="/console/calendar")
    assert _lands_on(answer, "/console/calendar") and answer.headers["Location"] == "../calendar"
    page = console.get("/console/calendar")
    assert page.status_code == 200
    html = _html(page)
    assert APPROVER in html and '<span class="role">approver</span>' in html
    assert 'aria-current="page">Calendar' in html
    for label in ("Queue", "Calendar", "Compose", "Accounts", "Campaigns", "YouTube"):
        assert f">{label}" in html


def test_home_goes_to_the_queue(console):
    sign_in_locally(console)
    assert console.get("/console/").headers["Location"] == "queue"
    assert console.get("/console").headers["Location"] == "console/queue"


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/console/queue", "/campaigns",
                                    "/console/../campaigns", "/console//evil.example", "javascript:alert(1)",
                                    "/console/queue\\@evil.example"])
def test_next_outside_the_console_is_ignored(console, target):
    answer = sign_in_locally(console, APPROVER, next_path=target)
    assert _lands_on(answer, "/console/queue")


def test_session_cookie_is_httponly_secure_samesite_lax_host_only_and_lasts_8_hours(console):
    answer = sign_in_locally(console)
    cookie = _cookie(answer)
    attributes = [part.strip() for part in cookie.split(";")]
    assert "HttpOnly" in attributes and "Secure" in attributes and "SameSite=Lax" in attributes
    assert "Path=/" in attributes and not any(a.lower().startswith("domain=") for a in attributes)
    expires = parsedate_to_datetime(next(a for a in attributes if a.startswith("Expires=")).split("=", 1)[1])
    assert abs(expires - (datetime.now(UTC) + timedelta(hours=8))) < timedelta(minutes=1)


def test_sign_in_issues_a_new_session_and_the_old_csrf_token_no_longer_works(console):
    page = console.get("/console/sign-in")
    before_cookie, before_token = _cookie(page), csrf_of(_html(page))
    answer = console.post("/console/sign-in/local", data={"csrf_token": before_token, "user": APPROVER})
    assert _cookie(answer).split(";")[0] != before_cookie.split(";")[0]
    refused = console.post("/console/sign-out", data={"csrf_token": before_token})
    assert refused.status_code == 400
    assert console.get("/console/queue").status_code == 200  # still signed in


def test_a_session_older_than_8_hours_is_over(console):
    from itsdangerous import URLSafeTimedSerializer

    from shared.console.session import ConsoleSessions

    sign_in_locally(console)
    sessions = ConsoleSessions("/console")
    signer = URLSafeTimedSerializer(console.session_key, salt=sessions.salt, serializer=sessions.serializer,
                                    signer_kwargs={"key_derivation": sessions.key_derivation,
                                                   "digest_method": sessions.digest_method})
    old = int((datetime.now(UTC) - timedelta(hours=8, minutes=1)).timestamp())
    console.set_cookie("__Host-postgate-console", signer.dumps({"user": APPROVER, "signed_in_at": old, "via": "local"}),
                       domain="localhost")
    answer = console.get("/console/queue")
    assert answer.status_code == 303 and "sign-in" in answer.headers["Location"]


def test_a_cookie_signed_with_another_key_is_no_session(console):
    from itsdangerous import URLSafeTimedSerializer

    forged = URLSafeTimedSerializer("x" * 40, salt="cookie-session").dumps({"user": APPROVER, "signed_in_at": 0})
    console.set_cookie("__Host-postgate-console", forged, domain="localhost")
    assert console.get("/console/queue").status_code == 303


def test_sign_out_needs_its_csrf_token_and_then_ends_the_session(console):
    sign_in_locally(console)
    page = _html(console.get("/console/queue"))
    refused = console.post("/console/sign-out", data={})
    assert refused.status_code == 400
    assert "The CSRF token is missing." in _html(refused) and "Nothing was changed" in _html(refused)
    assert console.get("/console/queue").status_code == 200
    done = console.post("/console/sign-out", data={"csrf_token": csrf_of(page)})
    assert done.status_code == 303 and done.headers["Location"] == "sign-in"
    assert console.get("/console/queue").status_code == 303


def test_csrf_token_is_accepted_in_the_x_csrftoken_header(console):
    sign_in_locally(console)
    token = re.search(r'<meta name="csrf-token" content="([^"]+)">', _html(console.get("/console/queue"))).group(1)
    answer = console.post("/console/sign-out", headers={"X-CSRFToken": token})
    assert answer.status_code == 303


def test_sign_in_forms_need_the_csrf_token_too(console):
    answer = console.post("/console/sign-in/local", data={"user": APPROVER})
    assert answer.status_code == 400 and "CSRF" in _html(answer)
    assert console.get("/console/queue").status_code == 303


# --- local sign-in -----------------------------------------------------------------------------------

def test_the_local_sign_in_page_lists_the_stacks_users_with_their_roles(console):
    html = _html(console.get("/console/sign-in"))
    assert f'value="{APPROVER}"' in html and f'value="{EDITOR}"' in html
    assert "Sign in with Google" not in html and "accounts.google.com" not in html


def test_local_sign_in_refuses_someone_who_is_not_a_user_of_the_stack(console):
    answer = sign_in_locally(console, "stranger@example.com")
    assert answer.status_code == 403 and "not one of this stack" in _html(answer)
    assert console.get("/console/queue").status_code == 303


def test_local_sign_in_is_refused_when_the_setting_is_off(env, monkeypatch):
    set_up_console(monkeypatch, local_sign_in=False, client_id=CLIENT_ID)  # as deployed
    client = api_client()
    page = client.get("/console/sign-in")
    html = _html(page)
    assert APPROVER not in html and "sign-in/local" not in html
    answer = client.post("/console/sign-in/local", data={"csrf_token": csrf_of(html), "user": APPROVER})
    assert answer.status_code == 403 and "Local sign-in is off" in _html(answer)
    assert client.get("/console/queue").status_code == 303


def test_a_user_whose_roles_are_removed_is_signed_out_at_the_next_click(console):
    from shared import services

    sign_in_locally(console, EDITOR)
    services.repository().db.collection("api_users").document(EDITOR).set({"roles": []})
    answer = console.get("/console/queue")
    assert answer.status_code == 403 and "no role" in _html(answer)
    assert console.get("/console/queue").status_code == 303


# --- Sign in with Google -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def google_certs():
    with stand_in_google_certs() as certs:
        yield certs


@pytest.fixture
def google_console(env, monkeypatch, google_certs):
    monkeypatch.setenv("POSTGATE_API_GOOGLE_CERTS_URL", google_certs["url"])
    set_up_console(monkeypatch, local_sign_in=False, client_id=CLIENT_ID)
    yield api_client()
    monkeypatch.undo()


def _google_sign_in(client, credential: str, next_path: str = "/console/queue"):
    page = client.get("/console/sign-in")
    return client.post("/console/sign-in/google", data={"csrf_token": csrf_of(_html(page)), "credential": credential,
                                                        "next": next_path})


def test_the_sign_in_page_offers_googles_button_with_the_client_id_and_googles_origins_in_its_csp(google_console):
    page = google_console.get("/console/sign-in")
    html = _html(page)
    assert f'data-client-id="{CLIENT_ID}"' in html
    assert '<script src="https://accounts.google.com/gsi/client" async id="gsi-client"></script>' in html
    csp = page.headers["Content-Security-Policy"]
    assert "script-src 'self' https://accounts.google.com/gsi/client;" in csp
    assert "style-src 'self' https://accounts.google.com/gsi/style;" in csp
    assert "connect-src 'self' https://accounts.google.com/gsi/;" in csp
    assert "frame-src https://accounts.google.com/gsi/;" in csp
    assert page.headers["Cross-Origin-Opener-Policy"] == "same-origin-allow-popups"
    assert page.headers["Referrer-Policy"] == "strict-origin"  # the origin only, for Google's button frame


def test_a_google_id_token_for_the_console_signs_a_user_in_with_their_roles(google_console, google_certs):
    answer = _google_sign_in(google_console, google_id_token(google_certs, email=" Lead@Example.com"),
                             "/console/campaigns")
    assert _lands_on(answer, "/console/campaigns")
    page = google_console.get("/console/campaigns")
    assert page.status_code == 200 and APPROVER in _html(page)
    # Google's origins are on the sign-in page only.
    assert "accounts.google.com" not in page.headers["Content-Security-Policy"]


@pytest.mark.parametrize("claims, why", [
    ({"aud": "postgate-api"}, "audience"),
    ({"aud": "another-app.apps.googleusercontent.com"}, "audience"),
    ({"iss": "https://accounts.example.com"}, "issuer"),
    ({"email_verified": False}, "verified e-mail"),
    ({"email_verified": "true"}, "verified e-mail"),
    ({"exp": 1_000_000_000, "iat": 999_999_000}, "expired"),
], ids=["api-audience", "other-client", "issuer", "unverified", "verified-as-string", "expired"])
def test_a_google_id_token_that_does_not_verify_for_the_console_is_refused(google_console, google_certs, claims, why):
    answer = _google_sign_in(google_console, google_id_token(google_certs, **claims))
    assert answer.status_code == 401
    assert "Google sign-in refused" in _html(answer)
    assert google_console.get("/console/queue").status_code == 303


def test_the_apis_own_hs256_tokens_do_not_sign_in_to_the_console(google_console, env):
    token = bearer(env, APPROVER, ("approver",), audience=CLIENT_ID)["Authorization"].split(" ", 1)[1]
    answer = _google_sign_in(google_console, token)
    assert answer.status_code == 401 and "not a Google ID token" in _html(answer)


def test_a_verified_google_user_without_a_role_is_refused(google_console, google_certs):
    answer = _google_sign_in(google_console, google_id_token(google_certs, email="stranger@example.com"))
    assert answer.status_code == 403 and "has no role" in _html(answer)
    assert google_console.get("/console/queue").status_code == 303


def test_the_google_credential_is_never_in_a_page(google_console, google_certs):
    credential = google_id_token(google_certs, aud="wrong")
    answer = _google_sign_in(google_console, credential)
    assert credential not in _html(answer)
    good = google_id_token(google_certs)
    _google_sign_in(google_console, good)
    assert good not in _html(google_console.get("/console/queue"))


# --- what every answer carries ------------------------------------------------------------------------

def test_every_console_answer_has_the_csp_and_security_headers(console):
    answers = {"sign-in page": console.get("/console/sign-in"), "redirect": console.get("/console/queue")}
    sign_in_locally(console)
    queue = console.get("/console/queue")
    css = re.search(r'href="(static/[0-9a-f]+/console\.css)"', _html(queue)).group(1)
    answers.update({"queue": queue, "placeholder page": console.get("/console/compose"),
                    "stylesheet": console.get("/console/" + css), "not found": console.get("/console/nowhere"),
                    "csrf refusal": console.post("/console/sign-out")})
    for what, answer in answers.items():
        csp = answer.headers.get("Content-Security-Policy", "")
        assert csp.startswith("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: "), what
        for directive in ("connect-src 'self'", "form-action 'self'", "frame-ancestors 'none'", "base-uri 'none'"):
            assert directive in csp, (what, directive)
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp and "accounts.google.com" not in csp, what
        assert answer.headers["X-Frame-Options"] == "DENY", what
        assert answer.headers["X-Content-Type-Options"] == "nosniff", what
        assert answer.headers["Referrer-Policy"] == "no-referrer", what
    assert answers["not found"].status_code == 404 and answers["not found"].mimetype == "text/html"


def test_pages_have_no_inline_script_or_style(console):
    sign_in_locally(console)
    for path in ["/console/sign-in", *PAGES]:
        html = _html(console.get(path))
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), path
        assert "<style" not in html and " style=" not in html and not re.search(r" on[a-z]+=", html), path


def test_no_token_or_secret_in_any_page(console, env):
    answer = sign_in_locally(console)
    cookie_value = _cookie(answer).split(";")[0].split("=", 1)[1]
    secrets = {"session key": console.session_key, "session cookie": cookie_value, "api jwt key": env["api_jwt_key"],
               "approval signing key": env["signing_key"], "platform token": env["access_token"]}
    for path in ["/console/sign-in", *PAGES]:
        html = _html(console.get(path))
        for name, value in secrets.items():
            assert value not in html, (path, name)


def test_static_files_are_fingerprinted_and_cached_long(console):
    html = _html(console.get("/console/sign-in"))
    css = re.search(r'href="(static/([0-9a-f]{16})/console\.css)"', html)
    answer = console.get("/console/" + css.group(1))
    assert answer.status_code == 200 and answer.mimetype == "text/css"
    assert answer.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    stale = console.get("/console/static/0000000000000000/console.css")
    assert stale.status_code == 200 and stale.headers["Cache-Control"] == "no-cache"
    assert console.get("/console/static/" + css.group(2) + "/nothing.css").status_code == 404


# --- the count of waiting items, and the API beside the console -----------------------------------------

def test_the_count_of_items_waiting_for_approval_is_on_every_page(console):
    from shared import entrypoints

    for topic in ("First launch post", "Second launch post"):
        entrypoints.generate(brief(upload_video(), topic=topic))
    sign_in_locally(console, EDITOR)
    for path in PAGES:
        html = _html(console.get(path))
        assert re.search(r'id="waiting-count" data-count="2">2<', html), path
    queue = _html(console.get("/console/queue"))
    assert queue.count('class="queue-item"') == 2 and "waiting 0 min" in queue


def test_the_api_still_wants_its_bearer_token_and_answers_json(console, env):
    sign_in_locally(console)
    answer = console.get("/campaigns")  # the console's cookie is no API credential
    assert answer.status_code == 401 and answer.get_json()["field"] == "Authorization"
    assert console.get("/campaigns", headers=bearer(env)).status_code == 200


def test_without_its_session_key_the_console_says_so_and_the_api_serves_on(env, monkeypatch):
    set_up_console(monkeypatch, session_key="too-short")
    client = api_client()
    answer = client.get("/console/sign-in")
    assert answer.status_code == 503 and "console-session-key" in _html(answer)
    assert "Content-Security-Policy" in answer.headers
    assert client.get("/campaigns", headers=bearer(env)).status_code == 200
