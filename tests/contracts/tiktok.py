"""TikTok's contract check: each recorded exchange against the rules in specs/tiktok_rules.py (TikTok
publishes no machine-readable document; every rule there names its page).

`RULES` maps (method, path) to (operation, rule): one entry per endpoint, so an endpoint's rules
are added or changed in one place. Control endpoints of the sandbox are not platform requests
(operation None); any other path the rules do not know is a problem.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from infra.local.sandboxes.recording import Exchange
from tests.contracts import Verdict
from tests.contracts.specs import tiktok_rules as R
from tests.contracts.tiktok_photo import OPERATION as PHOTO_INIT_OPERATION
from tests.contracts.tiktok_photo import PATH as PHOTO_INIT_PATH
from tests.contracts.tiktok_photo import check_photo_init

UPLOAD_PATH = "/upload/"  # the sandbox's stand-in for the opaque upload_url (open-upload.tiktokapis.com/...)
_RANGE = re.compile(r"^bytes (\d+)-(\d+)/(\d+)$")
_PROGRESS = re.compile(r"^bytes 0-(\d+)/(\d+)$")

Rule = Callable[[Exchange, list[str]], bool]  # appends problems; returns whether the answer was checked


def check(exchange: Exchange) -> Verdict:
    if exchange.path.startswith("/_sandbox/"):
        return Verdict(None)
    entry = RULES.get((exchange.method, exchange.path))
    if entry is None:
        known = sorted(f"{m} {p}" for m, p in RULES)
        return Verdict(f"tiktok.unknown {exchange.method} {exchange.path}",
                       [f"{exchange.method} {exchange.path} is not a documented TikTok endpoint (known: {', '.join(known)})"])
    operation, rule = entry
    problems: list[str] = []
    checked = rule(exchange, problems)
    return Verdict(operation, problems, response_checked=checked)


# -- shared pieces --------------------------------------------------------------------------------------
def _bearer(ex: Exchange, problems: list[str]) -> None:
    auth = ex.headers.get("authorization", "")
    if not auth.startswith("Bearer ") or not auth[7:].strip():
        problems.append(f"Authorization must be 'Bearer {{access_token}}' [{R.ERROR_HANDLING}]")


def _json_body(ex: Exchange, problems: list[str], page: str, *, required: bool = True) -> dict:
    if ex.content_type != R.JSON_CONTENT_TYPE:
        problems.append(f"Content-Type must be application/json; charset=UTF-8, got {ex.content_type!r} [{page}]")
    body = ex.json()
    if body is None and not required and not ex.body.strip():
        return {}
    if not isinstance(body, dict):
        problems.append(f"the body must be a JSON object [{page}]")
        return {}
    return body


def _envelope(ex: Exchange, problems: list[str], page: str) -> dict | None:
    """The {data, error{code, message, log_id}} answer; its data when the code is ok."""
    if ex.dropped:
        return None
    answer = ex.response_json()
    if not isinstance(answer, dict) or not isinstance(answer.get("error"), dict):
        problems.append(f"answer {ex.status} is not the {{data, error}} envelope [{R.ERROR_HANDLING}]")
        return None
    error = answer["error"]
    code = error.get("code")
    for key in ("code", "message", "log_id"):
        if not isinstance(error.get(key), str):
            problems.append(f"error.{key} must be a string [{R.ERROR_HANDLING}]")
    if code not in R.ERROR_CODES:
        problems.append(f"error.code {code!r} is not a documented code [{page}; {R.ERROR_HANDLING}]")
    elif code == "ok" and ex.status != 200:
        problems.append(f"error.code ok with HTTP {ex.status} [{R.ERROR_HANDLING}]")
    elif code != "ok" and ex.status == 200:
        problems.append(f"error.code {code} with HTTP 200 [{page}]")
    if code == "ok":
        data = answer.get("data")
        if not isinstance(data, dict):
            problems.append(f"data must be an object [{page}]")
            return None
        return data
    return None


def _types(data: dict, fields: dict[str, type], problems: list[str], page: str, where: str) -> None:
    for name, value in data.items():
        if name not in fields:
            problems.append(f"{where}.{name} is not a documented field [{page}]")
        elif not _is(value, fields[name]):
            problems.append(f"{where}.{name} must be {fields[name].__name__}, got {type(value).__name__} [{page}]")


def _is(value: Any, kind: type) -> bool:
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, kind)


# -- endpoints -------------------------------------------------------------------------------------------
def _creator_info(ex: Exchange, problems: list[str]) -> bool:
    _bearer(ex, problems)
    body = _json_body(ex, problems, R.CREATOR_INFO, required=False)
    if body:
        problems.append(f"creator_info/query takes no body fields, got {sorted(body)} [{R.CREATOR_INFO}]")
    data = _envelope(ex, problems, R.CREATOR_INFO)
    if data is not None:
        _types(data, R.CREATOR_INFO_FIELDS, problems, R.CREATOR_INFO, "data")
        bad = [o for o in data.get("privacy_level_options") or [] if o not in R.PRIVACY_LEVELS]
        if bad:
            problems.append(f"data.privacy_level_options has {bad} [{R.CREATOR_INFO}]")
    return not ex.dropped


def _video_init(ex: Exchange, problems: list[str]) -> bool:
    _bearer(ex, problems)
    body = _json_body(ex, problems, R.DIRECT_POST)
    extra = set(body) - {"post_info", "source_info"}
    if extra:
        problems.append(f"unknown body fields {sorted(extra)} [{R.DIRECT_POST}]")
    post_info, source_info = body.get("post_info"), body.get("source_info")
    if not isinstance(post_info, dict):
        problems.append(f"post_info is required (an object) [{R.DIRECT_POST}]")
    else:
        for name, (kind, required) in R.POST_INFO_FIELDS.items():
            if name not in post_info:
                if required:
                    problems.append(f"post_info.{name} is required [{R.DIRECT_POST}]")
            elif not _is(post_info[name], kind):
                problems.append(f"post_info.{name} must be {kind.__name__} [{R.DIRECT_POST}]")
        for name in set(post_info) - set(R.POST_INFO_FIELDS):
            problems.append(f"post_info.{name} is not a documented field [{R.DIRECT_POST}]")
        if "privacy_level" in post_info and post_info["privacy_level"] not in R.PRIVACY_LEVELS:
            problems.append(f"post_info.privacy_level {post_info['privacy_level']!r} is not one of "
                            f"{sorted(R.PRIVACY_LEVELS)} [{R.DIRECT_POST}]")
        title = post_info.get("title")
        if isinstance(title, str) and len(title.encode("utf-16-le")) // 2 > R.TITLE_MAX_UTF16:
            problems.append(f"post_info.title over {R.TITLE_MAX_UTF16} UTF-16 units [{R.DIRECT_POST}]")
    if not isinstance(source_info, dict):
        problems.append(f"source_info is required (an object) [{R.DIRECT_POST}]")
    else:
        _source_info(source_info, problems)
    data = _envelope(ex, problems, R.DIRECT_POST)
    if data is not None:
        for name, limit in R.INIT_ANSWER.items():
            value = data.get(name)
            if name == "upload_url" and (source_info or {}).get("source") != "FILE_UPLOAD":
                continue
            if not isinstance(value, str) or not value or len(value) > limit:
                problems.append(f"data.{name} must be a string of at most {limit} characters [{R.DIRECT_POST}]")
    return not ex.dropped


def _source_info(source: dict, problems: list[str]) -> None:
    kind = source.get("source")
    if kind not in R.SOURCES:
        problems.append(f"source_info.source {kind!r} is not one of {sorted(R.SOURCES)} [{R.DIRECT_POST}]")
        return
    if kind == "PULL_FROM_URL":
        allowed = {"source", "video_url"}
        if not isinstance(source.get("video_url"), str):
            problems.append(f"source_info.video_url is required for PULL_FROM_URL [{R.DIRECT_POST}]")
    else:
        allowed = {"source", *R.FILE_UPLOAD_FIELDS}
        values = [source.get(f) for f in R.FILE_UPLOAD_FIELDS]
        if not all(_is(v, int) and v > 0 for v in values):
            problems.append(f"source_info.{'/'.join(R.FILE_UPLOAD_FIELDS)} are required positive int64 for "
                            f"FILE_UPLOAD [{R.DIRECT_POST}]")
        else:
            _chunk_plan(*values, problems)
    for name in set(source) - allowed:
        problems.append(f"source_info.{name} is not a field of {kind} [{R.DIRECT_POST}]")


def _chunk_plan(size: int, chunk: int, count: int, problems: list[str]) -> None:
    page = R.MEDIA_TRANSFER
    if size > R.MAX_VIDEO:
        problems.append(f"video_size {size} over 4 GB [{page}]")
    if size < R.MIN_CHUNK:
        if chunk != size or count != 1:
            problems.append(f"a video under 5 MB goes whole: chunk_size = video_size, 1 chunk [{page}]")
        return
    if not R.MIN_CHUNK <= chunk <= R.MAX_CHUNK:
        problems.append(f"chunk_size {chunk} outside 5-64 MB [{page}]")
    if count != size // chunk:
        problems.append(f"total_chunk_count {count} != floor(video_size / chunk_size) = {size // chunk} [{page}]")
    if not 1 <= count <= R.MAX_CHUNKS:
        problems.append(f"total_chunk_count {count} outside 1-{R.MAX_CHUNKS} [{page}]")
    if size > R.MAX_CHUNK and count < 2:
        problems.append(f"a video over 64 MB must go in several chunks [{page}]")
    if count >= 1 and size - chunk * (count - 1) > R.MAX_FINAL_CHUNK:
        problems.append(f"the final chunk would be over 128 MB [{page}]")


def _upload(ex: Exchange, problems: list[str]) -> bool:
    page = R.MEDIA_TRANSFER
    params = ex.params()
    if not params.get("upload_id") or not params.get("upload_token"):
        problems.append(f"the upload_url must be used whole, query string included [{R.DIRECT_POST}]")
    if ex.content_type not in R.VIDEO_MIME_TYPES:
        problems.append(f"Content-Type {ex.content_type!r} is not one of {sorted(R.VIDEO_MIME_TYPES)} [{page}]")
    length = ex.headers.get("content-length")
    if length is None or not length.isdigit() or int(length) != ex.body_size:
        problems.append(f"Content-Length must be the chunk's byte size ({ex.body_size}), got {length!r} [{page}]")
    match = _RANGE.match(ex.headers.get("content-range", ""))
    if not match:
        problems.append(f"Content-Range must be 'bytes FIRST-LAST/TOTAL', got {ex.headers.get('content-range')!r} [{page}]")
    else:
        first, last, total = (int(g) for g in match.groups())
        size = last - first + 1
        if size != ex.body_size:
            problems.append(f"Content-Range covers {size} bytes, the body has {ex.body_size} [{page}]")
        final = last == total - 1
        if final and size > R.MAX_FINAL_CHUNK:
            problems.append(f"the final chunk is over 128 MB [{page}]")
        if not final and (size > R.MAX_CHUNK or (total >= R.MIN_CHUNK and size < R.MIN_CHUNK)):
            problems.append(f"a chunk before the final one must be 5-64 MB, this one is {size} bytes [{page}]")
    if ex.dropped:
        return False
    if ex.status not in R.UPLOAD_STATUSES and ex.status < 500:
        problems.append(f"HTTP {ex.status} is not a documented upload answer [{page}]")
    if ex.status in (201, 206):
        progress = _PROGRESS.match(ex.response_headers.get("content-range", ""))
        if not progress:
            problems.append(f"a {ex.status} answer must carry Content-Range: bytes 0-{{UPLOADED_BYTES}}/{{TOTAL}} [{page}]")
        elif match and int(progress.group(2)) != int(match.group(3)):
            problems.append(f"the answer's Content-Range total differs from the request's [{page}]")
    return True


def _status(ex: Exchange, problems: list[str]) -> bool:
    _bearer(ex, problems)
    body = _json_body(ex, problems, R.POST_STATUS)
    if set(body) != {"publish_id"} or not isinstance(body.get("publish_id"), str):
        problems.append(f"the body is {{publish_id: string}} only, got {sorted(body)} [{R.POST_STATUS}]")
    data = _envelope(ex, problems, R.POST_STATUS)
    if data is not None:
        _types(data, R.STATUS_FIELDS, problems, R.POST_STATUS, "data")
        if data.get("status") not in R.STATUSES:
            problems.append(f"data.status {data.get('status')!r} is not one of {sorted(R.STATUSES)} [{R.POST_STATUS}]")
        ids = data.get("publicaly_available_post_id")
        if isinstance(ids, list) and not all(_is(i, int) for i in ids):
            problems.append(f"data.publicaly_available_post_id is list<int64>, got {ids!r} [{R.POST_STATUS}]")
    return not ex.dropped


def _fields_param(ex: Exchange, problems: list[str], known, kind: str, page: str, object_page: str) -> list[str]:
    """The comma-separated `fields` query parameter: required, and only the object's documented fields."""
    fields = [f for f in ex.params().get("fields", "").split(",") if f]
    if not fields:
        problems.append(f"the fields query parameter is required [{page}]")
    unknown = [f for f in fields if f not in known]
    if unknown:
        problems.append(f"fields {unknown} are not {kind} object fields [{object_page}]")
    return fields


def _video_query(ex: Exchange, problems: list[str]) -> bool:
    _bearer(ex, problems)
    fields = _fields_param(ex, problems, R.VIDEO_FIELDS, "video", R.VIDEO_QUERY, R.VIDEO_OBJECT)
    body = _json_body(ex, problems, R.VIDEO_QUERY)
    filters = body.get("filters")
    ids = filters.get("video_ids") if isinstance(filters, dict) else None
    if set(body) - {"filters"} or not isinstance(filters, dict) or set(filters) - {"video_ids"}:
        problems.append(f"the body is {{filters: {{video_ids}}}}, got {body!r:.200} [{R.VIDEO_QUERY}]")
    if not isinstance(ids, list) or not ids or not all(isinstance(i, str) for i in ids):
        problems.append(f"filters.video_ids must be a non-empty list of strings [{R.VIDEO_QUERY}]")
    elif len(ids) > R.VIDEO_QUERY_MAX_IDS:
        problems.append(f"filters.video_ids takes at most {R.VIDEO_QUERY_MAX_IDS} ids [{R.VIDEO_QUERY}]")
    data = _envelope(ex, problems, R.VIDEO_QUERY)
    if data is not None:
        _types(data, R.VIDEO_QUERY_ANSWER, problems, R.VIDEO_QUERY, "data")
        for video in data.get("videos") or []:
            extra = set(video) - set(fields)
            if extra:
                problems.append(f"a video carries fields not asked for: {sorted(extra)} [{R.VIDEO_QUERY}]")
            if "id" in video and not isinstance(video["id"], str):
                problems.append(f"video id must be a string [{R.VIDEO_OBJECT}]")
    return not ex.dropped


def _user_info(ex: Exchange, problems: list[str]) -> bool:
    _bearer(ex, problems)
    fields = _fields_param(ex, problems, R.USER_FIELDS, "user", R.USER_INFO, R.USER_INFO)
    data = _envelope(ex, problems, R.USER_INFO)
    if data is not None:
        user = data.get("user")
        if not isinstance(user, dict) or set(user) - set(fields):
            problems.append(f"data.user must carry only the fields asked for [{R.USER_INFO}]")
    return not ex.dropped


def _token(ex: Exchange, problems: list[str]) -> bool:
    if ex.content_type != "application/x-www-form-urlencoded":
        problems.append(f"Content-Type must be application/x-www-form-urlencoded, got {ex.content_type!r} [{R.OAUTH}]")
    form = ex.form()
    grant = form.get("grant_type")
    needed = R.TOKEN_GRANTS.get(grant)
    if needed is None:
        problems.append(f"grant_type {grant!r} is not one of {sorted(R.TOKEN_GRANTS)} [{R.OAUTH}]")
        needed = set()
    required = {"client_key", "client_secret", "grant_type", *needed}
    missing = [f for f in sorted(required) if not form.get(f)]
    if missing:
        problems.append(f"missing form fields {missing} [{R.OAUTH}]")
    extra = set(form) - required - R.TOKEN_OPTIONAL
    if extra:
        problems.append(f"unknown form fields {sorted(extra)} [{R.OAUTH}]")
    if ex.dropped:
        return False
    answer = ex.response_json()
    if not isinstance(answer, dict):
        problems.append(f"the answer must be a JSON object [{R.OAUTH}]")
    elif ex.status == 200:
        _types(answer, R.TOKEN_ANSWER, problems, R.OAUTH, "answer")
    else:
        _types(answer, R.TOKEN_ERROR, problems, R.OAUTH, "error answer")
    return True


def _authorize(ex: Exchange, problems: list[str]) -> bool:
    params = ex.params()
    missing = sorted(R.AUTHORIZE_REQUIRED - set(params))
    if missing:
        problems.append(f"authorize needs {missing} [{R.LOGIN_KIT_WEB}]")
    extra = set(params) - R.AUTHORIZE_REQUIRED - R.AUTHORIZE_OPTIONAL
    if extra:
        problems.append(f"authorize does not take {sorted(extra)} [{R.LOGIN_KIT_WEB}]")
    if params.get("response_type") not in (None, "code"):
        problems.append(f"response_type must be code [{R.LOGIN_KIT_WEB}]")
    if " " in params.get("scope", ""):
        problems.append(f"scopes are comma-separated [{R.LOGIN_KIT_WEB}]")
    return False


def _photo_init(ex: Exchange, problems: list[str]) -> bool:
    """Photo posts: the init's own rules live in tiktok_photo.py (one page of TikTok's reference)."""
    _bearer(ex, problems)
    problems.extend(check_photo_init(ex))
    return True


RULES: dict[tuple[str, str], tuple[str, Rule]] = {
    ("POST", "/v2/post/publish/creator_info/query/"): ("tiktok.creator_info.query", _creator_info),
    ("POST", "/v2/post/publish/video/init/"): ("tiktok.video.init", _video_init),
    ("PUT", UPLOAD_PATH): ("tiktok.upload.put", _upload),
    ("POST", "/v2/post/publish/status/fetch/"): ("tiktok.status.fetch", _status),
    ("POST", PHOTO_INIT_PATH): (PHOTO_INIT_OPERATION, _photo_init),
    ("POST", "/v2/video/query/"): ("tiktok.video.query", _video_query),
    ("GET", "/v2/user/info/"): ("tiktok.user.info", _user_info),
    ("POST", "/v2/oauth/token/"): ("tiktok.oauth.token", _token),
    ("GET", "/v2/auth/authorize/"): ("tiktok.login_kit.authorize", _authorize),
}
