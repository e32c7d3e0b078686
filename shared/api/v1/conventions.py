"""The seed's conventions, in one place for every `/api/v1` resource (docs/api.md, "/api/v1").

- Paths under `/api/v1`, served by the same app as our own API: the same bearer authentication, roles,
  per-user rate limit, bounded body, strict JSON, Idempotency-Key and `{"detail", "field"}` errors.
- Integer ids (`"social_account_id": 1`): every record has a stable number (shared/stores/seed_numbers.py).
  A path or body takes the number or our own string id; an all-digit value is a number. Answers carry
  `id` (the number) and `postgate_id` (our id).
- Status codes as the seed lists them: a refusal of the input is 400 naming the field (the seed has no
  422: our rule refusals, answered 422 by our own API, are 400 here); 409 when the record's state
  forbids the change; 503 when Buffer fails.
- Lists are JSON arrays, as the seed's clients read them, paged by `skip` (>= 0) and `limit`
  (1..100, default 20); the total is the `X-Total-Count` header.
- Times are UTC. A time without an offset (the seed's "2025-12-25T10:00:00") is read as UTC; answers
  write UTC times as the seed does, without an offset ("2025-12-23T10:00:00").
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Annotated

import flask
from flask_openapi3 import APIBlueprint, Tag
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, SecretStr, WithJsonSchema

from shared.api.auth import current_principal
from shared.api.errors import ApiError
from shared.model.account import Account
from shared.model.platform import BUFFER_NETWORK_PLATFORMS, platform_named
from shared.services import get_services
from shared.stores.posts import Repository
from shared.stores.seed_numbers import SeedKind, id_of, number_of, numbers_of

V1_PREFIX = "/api/v1"
BEARER: list[dict[str, list[str]]] = [{"bearer": []}]
DEFAULT_LIMIT = 20
MAX_LIMIT = 100
TOTAL_HEADER = "X-Total-Count"
# A record reference as sent: a seed number, or one of our ids (a Firestore document id).
REF_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,299}$"
Ref = Annotated[str, Field(pattern=REF_PATTERN, max_length=300, description="the record's number, or its postgate_id")]
# In a body: the number as the seed sends it (an integer), or our id.
BodyRef = Annotated[int | Annotated[str, Field(pattern=REF_PATTERN, max_length=300)],
                    Field(description="the record's number (as the seed sends it), or its postgate_id")]

TOKEN_PATTERN = r"^[!-~]+$"  # printable ASCII: it travels in an Authorization header


def _printable(token: SecretStr) -> SecretStr:
    if not re.fullmatch(TOKEN_PATTERN, token.get_secret_value()):
        raise ValueError("a token is printable ASCII without spaces")
    return token


# An access token or API key as sent: kept in the secret store, never answered (SecretStr keeps it out of reprs).
AccessToken = Annotated[SecretStr, Field(min_length=1, max_length=8000), AfterValidator(_printable),
                        WithJsonSchema({"type": "string", "format": "password", "writeOnly": True, "minLength": 1,
                                        "maxLength": 8000, "pattern": TOKEN_PATTERN})]

# How the seed's kinds are named in answers ("no social account 7").
_NAMES: dict[str, str] = {"social_account": "social account", "post": "post", "campaign": "campaign",
                          "analytics": "analytics record", "buffer_config": "Buffer configuration"}


def v1_blueprint(name: str, tag: str) -> APIBlueprint:
    """A resource's blueprint under /api/v1, bearer-authenticated, answering 400 where our API says 422."""
    blueprint = APIBlueprint(f"v1_{name}", __name__, url_prefix=V1_PREFIX, abp_tags=[Tag(name=f"v1 {tag}")],
                             abp_security=BEARER)
    blueprint.after_request(_seed_status)
    return blueprint


def _seed_status(response: flask.Response) -> flask.Response:
    if response.status_code == 422:  # the seed's "Bad Request": a refusal of what was sent
        response.status_code = 400
    return response


class SeedPage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    skip: int = Field(default=0, ge=0, le=100_000, description="items to skip")
    limit: int = Field(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT, description="items to return (1 to 100)")


class Deleted(BaseModel):
    """What a delete answers (the seed's 200): the deleted record's ids."""

    id: int
    postgate_id: str
    deleted: bool = True


def page_answer(items: list[dict], total: int):
    """A list answer: the items as a JSON array, the total in X-Total-Count."""
    response = flask.jsonify(items)
    response.headers[TOTAL_HEADER] = str(total)
    return response


def seed_time(moment: datetime | None) -> str | None:
    """A time as the seed writes it: UTC, seconds, no offset."""
    if moment is None:
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.isoformat(timespec="seconds")


def editor() -> str:
    """The caller, who must hold the editor role (every v1 write does)."""
    principal = current_principal()
    principal.require("editor")
    return principal.user


def repo() -> Repository:
    return get_services().repository


def now() -> datetime:
    """The services' clock (tests set it to the seed's own example moment)."""
    return get_services().now()


def not_found_ref(kind: SeedKind, ref: object, field: str | None = None) -> ApiError:
    return ApiError(404, f"no {_NAMES[kind]} {ref}", field=field)


def resolve(kind: SeedKind, ref: int | str, *, field: str | None = None) -> str:
    """Our id for a reference (a number, or our id as given); 404 naming `field` for an unknown number.
    Whether the record itself exists is for the caller's service to say."""
    if isinstance(ref, bool):  # JSON true is not a number here
        raise ApiError(400, f"{field or 'id'} must be a number or an id", field=field)
    if isinstance(ref, int) or ref.isdigit():
        found = id_of(repo(), kind, int(ref))
        if found is None:
            raise not_found_ref(kind, ref, field)
        return found
    return ref


# -- platforms as the seed names them -----------------------------------------------------------------
# The seed names the network ("twitter"); a Buffer-routed account's network is its channel's service, as
# Buffer names it. Our names are accepted too ("x").
BUFFER = "buffer"
# Ours -> the seed's where they differ (x -> twitter): the seed names networks as Buffer does.
SEED_PLATFORM_NAMES: dict[str, str] = {ours: theirs for theirs, ours in BUFFER_NETWORK_PLATFORMS.items() if ours != theirs}


def seed_platform(account: Account) -> str:
    """The network an account posts to, as the seed names it."""
    if account.get("platform") == BUFFER:
        return str(account.get("buffer_service") or BUFFER)
    platform = str(account.get("platform") or "")
    return SEED_PLATFORM_NAMES.get(platform, platform)


def same_network(name: str, account: Account) -> bool:
    """Whether a platform name as sent means the network the account posts to."""
    wanted = name.strip().lower()
    return wanted == seed_platform(account) or (platform_named(wanted) or wanted) == (
        platform_named(seed_platform(account)) or seed_platform(account))


def accounts_on(name: str) -> list[str]:
    """Ids of the accounts posting to the network named `name` (direct or through Buffer)."""
    return sorted(account_id for account_id, account in repo().accounts(None) if same_network(name, account))


def number(kind: SeedKind, record_id: str) -> int:
    return number_of(repo(), kind, record_id)


def numbers(kind: SeedKind, record_ids: Iterable[str]) -> dict[str, int]:
    return numbers_of(repo(), kind, record_ids)
