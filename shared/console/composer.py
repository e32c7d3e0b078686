"""The composer's form (docs/console.md#composer): what a person typed, posted whole or sent by
compose.js while typing, read into the API's own request bodies (OwnCopy for own copy, GenerateIn for an
AI brief), judged by the services the API calls, and each problem placed on the form control whose
field it names. No rule lives here: the models and services decide, this module only translates."""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

from annotated_types import MaxLen
from pydantic import BaseModel
from pydantic import ValidationError as PydanticError

from shared.api.errors import loc_to_field
from shared.api.routes.posts import TIME_ZONES, GenerateIn
from shared.content.own_copy import OwnCopy
from shared.errors import ValidationError
from shared.model.account import Account
from shared.model.content import TargetSpec, target_options
from shared.model.platform import account_platform_name
from shared.model.schedule import check_planned_time, planned_time_in_zone
from shared.runtime.clock import utcnow

Mode = Literal["own", "brief"]
MODES: tuple[Mode, ...] = ("own", "brief")
ZONES = frozenset(TIME_ZONES)
# The form's own controls, by the request field they fill (a target's choices are `t.<account>.<choice>`).
TEXT_FIELDS: dict[Mode, tuple[str, ...]] = {
    "own": ("campaign", "caption", "hashtags", "video", "images", "publish_at", "tz"),
    "brief": ("campaign", "topic", "audience", "tone", "call_to_action", "language", "hashtags", "video", "images",
              "publish_at", "tz"),
}
LABELS = {
    "privacy_level": "Who can watch", "tiktok_post_type": "Post type", "title": "Title",
    "disable_comment": "Comments off", "disable_duet": "Duets off", "disable_stitch": "Stitches off",
    "brand_content_toggle": "Paid partnership (branded content)", "brand_organic_toggle": "Promotes your own brand",
    "instagram_media_type": "Post type", "share_to_feed": "Share the reel to the feed", "alt_text": "Image alt text",
    "text_only": "Text only (leave the media out)", "youtube_privacy": "Visibility",
    "tags": "Tags (comma-separated)", "youtube_category_id": "Category id", "made_for_kids": "Made for kids",
    "linkedin_visibility": "Who sees it",
}
_SPLIT_TAGS = re.compile(r"[\s,]+")


@dataclass(frozen=True)
class Choice:
    """One per-target choice a platform's adapter reads (a TargetSpec field), as a form control."""

    name: str
    label: str
    kind: Literal["select", "checkbox", "text", "list"]
    options: tuple[str, ...] = ()
    default: Any = None  # a select without one starts on "not chosen" (TikTok forbids a preset privacy level)
    max_length: int | None = None


def choices_for(platform: str, buffer_service: str | None = None) -> list[Choice]:
    """The choices the composer offers a target on `platform` (a Buffer channel: those of the network
    behind it), each read off the TargetSpec field."""
    return [_choice(name) for name in target_options(platform, buffer_service)]


def _choice(name: str) -> Choice:
    spec = TargetSpec.model_fields[name]
    annotation = _without_none(spec.annotation)
    label = LABELS.get(name, name.replace("_", " ").capitalize())
    default = spec.get_default(call_default_factory=True)
    if typing.get_origin(annotation) is Literal:
        return Choice(name, label, "select", tuple(typing.get_args(annotation)), default=default)
    if annotation is bool:
        return Choice(name, label, "checkbox", default=default)
    if typing.get_origin(annotation) is list:
        return Choice(name, label, "list", default=default)
    max_length = next((m.max_length for m in spec.metadata if isinstance(m, MaxLen)), None)
    return Choice(name, label, "text", default=default, max_length=max_length)


def _without_none(annotation: Any) -> Any:
    """`X | None` -> X (an optional choice is offered as X with a "not chosen")."""
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        [inner] = [a for a in typing.get_args(annotation) if a is not type(None)]
        return inner
    return annotation


def option_label(value: str) -> str:
    """PUBLIC_TO_EVERYONE -> Public to everyone."""
    return value.replace("_", " ").capitalize()


@dataclass(frozen=True)
class AccountChoice:
    """An account the form offers as a target."""

    id: str
    platform: str
    handle: str
    status: str
    choices: list[Choice]
    record: Account  # the account document, as the services take it

    @property
    def platform_name(self) -> str:
        return account_platform_name(self.platform, self.record.get("buffer_service"))


def account_choices(rows: list[tuple[str, Account]], status_of) -> list[AccountChoice]:
    return [AccountChoice(account_id, str(record.get("platform", "")),
                          "@" + str(record.get("handle") or account_id).lstrip("@"), status_of(record),
                          choices_for(str(record.get("platform", "")), record.get("buffer_service")), record)
            for account_id, record in rows]


@dataclass
class Form:
    """What the person typed, as typed (the page shows it again when something is refused)."""

    mode: Mode
    values: dict[str, str]
    targets: list[str]
    options: dict[str, str]  # "t.<account>.<choice>" -> value, for the chosen targets
    key: str  # the form's Idempotency-Key: sent twice, it makes one item

    def chose(self, account_id: str, choice: str) -> str | None:
        return self.options.get(f"t.{account_id}.{choice}")


def read_form(form: Mapping[str, Any], *, default_tz: str, key: str) -> Form:
    """The posted form (a werkzeug MultiDict) as a Form."""
    mode: Mode = "brief" if form.get("mode") == "brief" else "own"
    values = {name: str(form.get(name, "")) for name in TEXT_FIELDS[mode]}
    values["tz"] = values["tz"].strip() or default_tz
    targets = list(dict.fromkeys(str(t) for t in form.getlist("target") if t))  # type: ignore[attr-defined]
    options = {k: str(v) for k, v in form.items() if k.startswith("t.") and k.split(".", 2)[1] in targets}
    posted_key = str(form.get("key", ""))
    return Form(mode, values, targets, options, posted_key if re.fullmatch(r"[A-Za-z0-9_-]{16,64}", posted_key) else key)


@dataclass
class Problem:
    field: str  # the request field the service named (targets[0].privacy_level)
    message: str
    control: str | None = None  # the form control it belongs to (t.tiktok-main.privacy_level), None: summary only
    account: str | None = None  # the target it is about, when it is about one

    @property
    def anchor(self) -> str:
        return control_id(self.control) if self.control else "compose-form"


def control_id(control: str) -> str:
    """The HTML id of a form control: "caption" -> "f-caption", "t.acc.title" -> "t-acc-title"."""
    return control.replace(".", "-") if control.startswith("t.") else f"f-{control}"


@dataclass
class Request:
    """The form as the API's request body (None when the model refused it), the problems found reading
    it, and the body with each refused part left out, so that the rest can still be judged."""

    body: BaseModel | None
    problems: list[Problem]
    judgeable: BaseModel | None
    publish_at: datetime | None = None
    zone: str = "UTC"
    scheduled: str | None = None  # "2030-01-31 09:00 Europe/Berlin (2030-01-31 08:00 UTC)"


def as_request(form: Form, *, user: str, accounts: Mapping[str, AccountChoice]) -> Request:
    """The form as OwnCopy (own copy) or GenerateIn (brief), as the API's routes take them."""
    problems: list[Problem] = []
    values = form.values
    zone = values["tz"]
    publish_at = None
    if zone not in ZONES:
        problems.append(Problem("tz", f"tz {zone!r} is not an IANA time zone name (e.g. Europe/Berlin)", "tz"))
    elif values["publish_at"].strip():
        try:
            publish_at = planned_time_in_zone(values["publish_at"], ZoneInfo(zone), field="publish_at")
        except ValidationError as exc:
            problems.append(Problem("publish_at", str(exc) + _limit(exc), "publish_at"))
    body: dict[str, Any] = {"campaign": values["campaign"].strip(), "hashtags": _tags(values["hashtags"]),
                            "targets": [_target(account_id, form, accounts) for account_id in form.targets],
                            "requested_by": user}
    if values["video"].strip():
        body["video"] = values["video"].strip()
    body["images"] = [line.strip() for line in values["images"].splitlines() if line.strip()]
    if publish_at is not None:
        body["publish_at"] = publish_at.isoformat()
    if form.mode == "own":
        body["caption"] = values["caption"]
        model: type[BaseModel] = OwnCopy
    else:
        for name in ("topic", "audience", "tone", "call_to_action", "language"):
            if values[name].strip():
                body[name] = values[name]
        model = GenerateIn
    try:
        valid = model.model_validate(body)
    except PydanticError as exc:
        errors = exc.errors(include_url=False, include_input=False)
    else:
        return Request(valid, problems, valid, publish_at, zone, _scheduled(publish_at, zone))
    for error in errors:  # "targets[0].privacy_level: Input should be ...", as the API's 400 names them
        where = loc_to_field(error["loc"]) or "body"
        problems.append(place(where, f"{where}: {error['msg']}", form, accounts))
    return Request(None, problems, _without_refused(model, body, errors), publish_at, zone, _scheduled(publish_at, zone))


def _limit(exc: ValidationError) -> str:
    return f" (limit: {exc.limit})" if exc.limit else ""


def _scheduled(publish_at: datetime | None, zone: str) -> str | None:
    if publish_at is None:
        return None
    local = publish_at.astimezone(ZoneInfo(zone))
    return f"{local:%Y-%m-%d %H:%M} {zone} ({publish_at:%Y-%m-%d %H:%M} UTC)"


def _tags(text: str) -> list[str]:
    return [tag for tag in _SPLIT_TAGS.split(text.strip()) if tag]


def _target(account_id: str, form: Form, accounts: Mapping[str, AccountChoice]) -> dict:
    target: dict[str, Any] = {"account_id": account_id}
    account = accounts.get(account_id)
    for choice in account.choices if account else []:
        value = form.chose(account_id, choice.name)
        if choice.kind == "checkbox":
            target[choice.name] = value is not None
        elif value is not None and value.strip():
            target[choice.name] = [t.strip() for t in value.split(",") if t.strip()] if choice.kind == "list" else value
    return target


def _without_refused(model: type[BaseModel], body: dict, errors: list) -> BaseModel | None:
    """The body with every refused part dropped (a refused target, image, hashtag, the time; a refused
    campaign replaced: it names no rule a platform has), so the platforms can still judge what is left
    while the person types; None when what is left is no request either (no caption yet)."""
    trimmed = {**body, "targets": list(body["targets"]), "images": list(body["images"]),
               "hashtags": list(body["hashtags"])}
    drop: dict[str, set[int]] = {"targets": set(), "images": set(), "hashtags": set()}
    for error in errors:
        loc = error["loc"]
        if loc and loc[0] in drop and len(loc) > 1 and isinstance(loc[1], int):
            drop[loc[0]].add(loc[1])
        elif loc and loc[0] == "campaign":
            trimmed["campaign"] = "composer-check"
        elif loc and loc[0] in ("video", "publish_at", "hashtags", "images", "audience", "tone", "call_to_action"):
            trimmed.pop(loc[0], None)
    for name, indexes in drop.items():
        trimmed[name] = [item for i, item in enumerate(trimmed[name]) if i not in indexes]
    try:
        return model.model_validate(trimmed)
    except PydanticError:
        return None


def place(field_name: str, message: str, form: Form, accounts: Mapping[str, AccountChoice],
          target_ids: list[str] | None = None) -> Problem:
    """A problem the services reported, on the control its field names: `targets[1].title` is the
    title of the second target (`target_ids`: the judged targets in order, by default the form's)."""
    targets = form.targets if target_ids is None else target_ids
    match = re.match(r"targets\[(\d+)\](?:\.([a-z_]+))?", field_name)
    if match:
        index, choice = int(match.group(1)), match.group(2)
        account_id = targets[index] if index < len(targets) else None
        account = accounts.get(account_id) if account_id else None
        if account is not None and choice and any(c.name == choice for c in account.choices):
            return Problem(field_name, message, f"t.{account.id}.{choice}", account.id)
        return Problem(field_name, message, "targets", account_id)
    head = re.split(r"[.\[]", field_name, maxsplit=1)[0]
    return Problem(field_name, message, head if head in TEXT_FIELDS[form.mode] or head == "targets" else None)


def judge_schedule(request: Request, form: Form) -> list[Problem]:
    """The brief's planned time judged by the schedule rule (prepare_copy judges own copy's itself)."""
    if request.publish_at is None:
        return []
    try:
        check_planned_time(request.publish_at, now=utcnow(), field="publish_at")
    except ValidationError as exc:
        return [Problem("publish_at", str(exc) + _limit(exc), "publish_at")]
    return []
