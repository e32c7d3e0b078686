"""Connecting an account: the platform's OAuth authorization-code flow.

start_connect builds the consent-page URL: the app's client id (from the `oauth-clients` secret),
redirect_uri = <api base>/accounts/oauth/callback, the scopes publishing needs, a random `state`
and, where the platform takes it, a PKCE S256 challenge. The state is stored (as its SHA-256, so a
database reader cannot replay it) in Firestore `oauth_states`, bound to the account and the user
who asked, single use, expiring after config.oauth_state_ttl_seconds.

finish_connect runs on the callback: it spends the state (once, in a transaction), exchanges the
code at the platform's token endpoint, asks the platform who the tokens belong to, refuses a
different account than the one this record is bound to, then writes the tokens as a new version
of the account's secret (the shape credentials.parse_token_secret reads) and marks the account
connected with its platform ids. Tokens are registered with the log redactor and never returned.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import secrets as pysecrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit

from shared.errors import AuthError, ConfigError, PermanentError, PostgateError, TransientError
from shared.model.account import Account
from shared.model.platform import display_name
from shared.platforms.credentials import StaticToken
from shared.platforms.registry import adapter_for
from shared.runtime.config_model import Config
from shared.runtime.logging import log_event, register_secret
from shared.stores.posts import Repository, run_with_contention_retry
from shared.stores.protocols import SecretStore
from shared.stores.secrets import SecretNotFound

log = logging.getLogger(__name__)

CALLBACK_PATH = "/accounts/oauth/callback"
# Kept in the secret beside the tokens when the platform sends them (refresh reads some of them).
_KEPT = ("open_id", "scope", "refresh_expires_in", "refresh_token_expires_at", "user_id", "login")


class ConnectError(PostgateError):
    """The connect flow cannot go on: `status` is what the API answers (400 bad or spent state,
    409 another platform account, 502 the platform failed, 503 not configured)."""

    def __init__(self, status: int, message: str, *, field: str | None = None):
        super().__init__(message)
        self.status, self.field = status, field


@dataclass(frozen=True)
class ConnectStart:
    authorize_url: str
    state: str
    expires_at: datetime


@dataclass(frozen=True)
class Connected:
    account_id: str
    platform: str
    platform_account_id: str
    name: str | None
    redirect_after: str | None


def redirect_uri(config: Config) -> str:
    if not config.api_base_url:
        raise ConnectError(503, "POSTGATE_API_BASE_URL is not set: the OAuth redirect URI cannot be built")
    return config.api_base_url.rstrip("/") + CALLBACK_PATH


def _state_id(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()


def _pkce_pair() -> tuple[str, str]:
    verifier = pysecrets.token_urlsafe(64)  # 86 characters of [A-Za-z0-9_-]: within RFC 7636's 43..128
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii")).digest()).decode().rstrip("=")
    return verifier, challenge


def app_credentials(secrets: SecretStore, config: Config, platform: str) -> dict:
    """{"client_id", "client_secret"} of Postgate's app on `platform`, from the oauth-clients secret."""
    try:
        raw = secrets.access(config.oauth_clients_secret)
    except SecretNotFound:
        raise ConnectError(503, f"secret {config.oauth_clients_secret!r} is missing: it holds each platform's "
                                'OAuth app, {"<platform>": {"client_id", "client_secret"}}') from None
    try:
        entry = (json.loads(raw) or {}).get(platform)
    except (ValueError, AttributeError):
        raise ConnectError(503, f"secret {config.oauth_clients_secret!r} is not a JSON object") from None
    if not isinstance(entry, dict) or not entry.get("client_id") or (platform != "x" and not entry.get("client_secret")):
        raise ConnectError(503, f"secret {config.oauth_clients_secret!r} has no client_id/client_secret for {platform}")
    register_secret(entry.get("client_secret"))
    return {"client_id": str(entry["client_id"]), "client_secret": str(entry.get("client_secret") or "")}


def connects_by_sign_in(platform: str) -> bool:
    """Whether the platform's accounts connect through its OAuth consent page. A Buffer channel does not:
    it posts with its Buffer configuration's API key."""
    return hasattr(adapter_for(platform), "authorization_request")


def start_connect(repo: Repository, secrets: SecretStore, config: Config, *, account_id: str, account: Account,
                  user: str, redirect_after: str | None, now: datetime, return_to: str | None = None) -> ConnectStart:
    """`return_to`: a path of this app (the console's accounts page) the callback sends the browser back
    to with the outcome, instead of answering with its own page (see `returning`)."""
    if return_to is not None and not _is_app_path(return_to):
        raise ValueError(f"return_to must be a path of this app, not {return_to!r}")
    platform = account["platform"]
    if not connects_by_sign_in(platform):
        raise ConnectError(409, f"{display_name(platform)} accounts have no sign-in page: this one posts with its "
                                "Buffer configuration's API key (replace the key there, then Test)", field="platform")
    request = adapter_for(platform).authorization_request(config, account)
    client = app_credentials(secrets, config, platform)
    state = pysecrets.token_urlsafe(32)
    params = {request["client_param"]: client["client_id"], "response_type": "code",
              "redirect_uri": redirect_uri(config), "scope": request["scope"], "state": state, **request["params"]}
    verifier = None
    if request["pkce"]:
        verifier, challenge = _pkce_pair()
        params.update(code_challenge=challenge, code_challenge_method="S256")
    expires_at = now + timedelta(seconds=config.oauth_state_ttl_seconds)
    repo.put_oauth_state(_state_id(state), {
        "account_id": account_id, "platform": platform, "user": user, "code_verifier": verifier,
        "redirect_uri": params["redirect_uri"], "redirect_after": redirect_after, "created_at": now,
        "expires_at": expires_at, "used_at": None, "return_to": return_to})
    log_event(log, logging.INFO, "account connect started", account_id=account_id, platform=platform, by=user)
    url = request["url"]
    return ConnectStart(url + ("&" if "?" in url else "?") + urlencode(params), state, expires_at)


def _spend_state(repo: Repository, state: str, now: datetime) -> dict[str, Any]:
    """The stored request behind `state`, marked used in the same transaction (single use)."""
    outcome = run_with_contention_retry(lambda: repo.spend_oauth_state(_state_id(state), now))
    if outcome == "unknown":
        raise ConnectError(400, "this sign-in link is not one Postgate issued; start again from "
                                "POST /accounts/{id}/connect", field="state")
    if outcome == "used":
        raise ConnectError(400, "this sign-in link was already used; start again from POST /accounts/{id}/connect",
                           field="state")
    if outcome == "expired":
        raise ConnectError(400, "this sign-in link expired; start again from POST /accounts/{id}/connect", field="state")
    assert isinstance(outcome, dict)  # the refusals are the three strings above
    return outcome


def finish_connect(repo: Repository, secrets: SecretStore, config: Config, *, state: str | None, code: str | None,
                   error: str | None, now: datetime, http=None) -> Connected:
    if not state:
        raise ConnectError(400, "the platform's answer carries no state", field="state")
    record = _spend_state(repo, state, now)
    account_id, platform = record["account_id"], record["platform"]
    name = display_name(platform)
    if error:
        shown = "".join(c for c in str(error)[:60] if c.isalnum() or c in "_-.")
        log_event(log, logging.WARNING, "account connect declined", account_id=account_id, platform=platform, error=shown)
        raise ConnectError(400, f"{name} did not grant access ({shown}): the account owner declined or cancelled; "
                                "nothing was changed", field="error")
    if not code:
        raise ConnectError(400, f"{name} answered without an authorization code", field="code")
    account = repo.get_account(account_id)
    if account is None:
        raise ConnectError(400, f"account {account_id!r} was deleted while connecting")
    adapter = adapter_for(platform)
    client = app_credentials(secrets, config, platform)
    try:
        fresh = adapter.exchange_code(code, client_id=client["client_id"], client_secret=client["client_secret"],
                                      redirect_uri=record["redirect_uri"], code_verifier=record.get("code_verifier"),
                                      config=config, http=http)
        for key in ("access_token", "refresh_token"):
            register_secret(fresh.get(key))
        # The fields kept beside the token travel with it: Instagram's `login` picks the host /me is asked on.
        kept = {k: fresh[k] for k in _KEPT if fresh.get(k) is not None}
        who = adapter.identity(StaticToken(fresh["access_token"], kept), config, account)
    except TransientError as exc:
        raise ConnectError(502, f"{name} did not answer the sign-in ({exc}); start again") from None
    except (PermanentError, AuthError, ConfigError) as exc:
        raise ConnectError(400, f"{name} refused the sign-in ({exc}); start again") from None
    bound = account.get("platform_account_id")
    if bound and bound != who["platform_account_id"]:
        raise ConnectError(409, f"the {name} sign-in was for {who.get('handle') or who['platform_account_id']}, not the "
                                f"account {account_id!r} is bound to ({bound}); sign in as that account, or add a new one")
    tokens = {"access_token": fresh["access_token"], "client_id": client["client_id"],
              "client_secret": client["client_secret"]}
    if fresh.get("refresh_token"):
        tokens["refresh_token"] = fresh["refresh_token"]
    if fresh.get("expires_in"):
        tokens["expires_at"] = int(time.time() + float(fresh["expires_in"]))
    tokens.update({k: fresh[k] for k in _KEPT if fresh.get(k) is not None})
    secret_name = account.get("secret_name") or f"{platform}-account-{account_id}"
    try:
        secrets.add_version(secret_name, json.dumps(tokens))
    except SecretNotFound:
        raise ConnectError(409, f"the secret {secret_name!r} for these tokens does not exist: add "
                                f"{{platform = \"{platform}\", account_id = \"{account_id}\"}} to `accounts` in "
                                "terraform.tfvars and apply, then connect again (nothing was stored)") from None
    changes = {"status": "connected", "status_at": now, "connected_at": now,
               "connected_by": record.get("user"), "updated_at": now, "secret_name": secret_name,
               "platform_account_id": who["platform_account_id"]}
    changes.update({k: v for k, v in who.items() if k not in ("platform_account_id", "name") and v})
    if who.get("name"):
        changes["platform_name"] = who["name"]
    repo.update_account(account_id, changes, remove=("status_reason",))
    log_event(log, logging.INFO, "account connected", account_id=account_id, platform=platform,
              by=record.get("user"), platform_account_id=who["platform_account_id"])
    return Connected(account_id, platform, who["platform_account_id"], who.get("name"), record.get("redirect_after"))


# -- back to the page that started it -------------------------------------------------------------
# A connect started from the console comes back to the console: the callback notes the outcome on the
# state record and sends the browser to `return_to?connect=<state id>`, and the page shows that outcome
# to the person who started it. The target is stored server-side by our own code, never read from the
# platform's answer, so the callback cannot be made to redirect anywhere else.

OUTCOME_DETAIL_CHARS = 500


@dataclass(frozen=True)
class ConnectOutcome:
    account_id: str
    user: str
    connected: bool
    detail: str


def _is_app_path(path: str) -> bool:
    return path.startswith("/") and not path.startswith("//") and "\\" not in path and "?" not in path


def connected_text(done: Connected) -> str:
    """What the callback says when an account is connected."""
    return f"Postgate can now publish to {done.platform} account {done.name or done.platform_account_id} ({done.account_id})."


def returning(repo: Repository, state: str, *, connected: bool, detail: str) -> str | None:
    """Where the callback sends the browser for a connect a console page started: its `return_to`
    with `?connect=<state id>`, after noting the outcome on the state record (the first outcome
    stays: a replayed callback does not overwrite it). None for an API caller's connect, an unknown
    state, or a state without a stored target: the callback answers as it always has."""
    record = repo.oauth_state(_state_id(state))
    if not record or not isinstance(record.get("return_to"), str) or not _is_app_path(record["return_to"]):
        return None
    if record.get("outcome") is None:
        repo.update_oauth_state(_state_id(state), {"outcome": "connected" if connected else "refused",
                                                   "outcome_detail": detail[:OUTCOME_DETAIL_CHARS]})
    return f"{record['return_to']}?connect={_state_id(state)}"


def outcome_of(repo: Repository, state_id: str) -> ConnectOutcome | None:
    """The noted outcome of a console-started connect (`state_id` from the `connect` parameter); None
    when there is none (not an id we issued, or the callback has not run)."""
    if not (len(state_id) == 64 and all(c in "0123456789abcdef" for c in state_id)):
        return None
    record = repo.oauth_state(state_id)
    if not record or record.get("outcome") not in ("connected", "refused"):
        return None
    return ConnectOutcome(str(record.get("account_id")), str(record.get("user")), record["outcome"] == "connected",
                          str(record.get("outcome_detail") or ""))


def authorize_origin(config: Config, account: Account) -> str:
    """The scheme and host of the platform's consent page for `account` (where Connect sends the browser)."""
    parts = urlsplit(adapter_for(account["platform"]).authorization_request(config, account)["url"])
    return f"{parts.scheme}://{parts.netloc}"
