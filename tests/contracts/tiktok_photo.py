"""Rules of TikTok's photo post init, POST /v2/post/publish/content/init/, for the TikTok contract
checker. TikTok publishes no machine-readable spec: each rule names the page it comes from.

`check_photo_init(exchange)` returns the problems of one exchange on that path (request, and the
answer's envelope when it is JSON); tests/contracts/tiktok.py maps the path to it.
"""

from __future__ import annotations

from typing import Any

from infra.local.sandboxes.recording import Exchange

PATH = "/v2/post/publish/content/init/"
OPERATION = "tiktok.post.publish.content.init"
PHOTO_PAGE = "https://developers.tiktok.com/doc/content-posting-api-reference-photo-post"
ERRORS_PAGE = "https://developers.tiktok.com/doc/tiktok-api-v2-error-handling"

PRIVACY_LEVELS = ("PUBLIC_TO_EVERYONE", "MUTUAL_FOLLOW_FRIENDS", "FOLLOWER_OF_CREATOR", "SELF_ONLY")
BODY = {"media_type": str, "post_mode": str, "post_info": dict, "source_info": dict}  # all required
POST_INFO = {"title": str, "description": str, "privacy_level": str, "disable_comment": bool,
             "auto_add_music": bool, "brand_content_toggle": bool, "brand_organic_toggle": bool}
SOURCE_INFO = {"source": str, "photo_images": list, "photo_cover_index": int}  # all required
TITLE_MAX, DESCRIPTION_MAX, MAX_PHOTOS = 90, 4000, 35


def _utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _fields(obj: dict, schema: dict[str, type], where: str, *, required: bool) -> list[str]:
    problems = [f"{where}{name} is not defined by the photo post reference ({PHOTO_PAGE})"
                for name in sorted(set(obj) - set(schema))]
    for name, kind in schema.items():
        if name not in obj:
            if required:
                problems.append(f"{where}{name} is required ({PHOTO_PAGE})")
            continue
        value = obj[name]
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            problems.append(f"{where}{name} must be {kind.__name__}, got {type(value).__name__} ({PHOTO_PAGE})")
    return problems


def check_photo_init(exchange: Exchange) -> list[str]:
    problems: list[str] = []
    if exchange.method != "POST":
        problems.append(f"{PATH} takes POST, not {exchange.method} ({PHOTO_PAGE})")
    if not exchange.headers.get("authorization", "").startswith("Bearer "):
        problems.append(f"Authorization: Bearer {{user access token}} is required ({PHOTO_PAGE})")
    content_type = exchange.headers.get("content-type", "").replace(" ", "").lower()
    if content_type != "application/json;charset=utf-8":
        problems.append(f"Content-Type must be application/json; charset=UTF-8, got {content_type!r} ({PHOTO_PAGE})")
    body = exchange.json()
    if not isinstance(body, dict):
        return problems + [f"the body must be a JSON object ({PHOTO_PAGE})"]
    problems += _fields(body, BODY, "", required=True)
    if body.get("media_type") != "PHOTO":
        problems.append(f"media_type must be PHOTO (the only value allowed) ({PHOTO_PAGE})")
    mode = body.get("post_mode")
    if mode not in ("DIRECT_POST", "MEDIA_UPLOAD"):
        problems.append(f"post_mode must be DIRECT_POST or MEDIA_UPLOAD, got {mode!r} ({PHOTO_PAGE})")
    if isinstance(body.get("post_info"), dict):
        problems += _post_info(body["post_info"], mode)
    if isinstance(body.get("source_info"), dict):
        problems += _source_info(body["source_info"])
    return problems + _answer(exchange)


def _post_info(info: dict, mode: Any) -> list[str]:
    problems = _fields(info, POST_INFO, "post_info.", required=False)
    if isinstance(info.get("title"), str) and _utf16(info["title"]) > TITLE_MAX:
        problems.append(f"post_info.title is over {TITLE_MAX} UTF-16 runes ({PHOTO_PAGE})")
    if isinstance(info.get("description"), str) and _utf16(info["description"]) > DESCRIPTION_MAX:
        problems.append(f"post_info.description is over {DESCRIPTION_MAX} UTF-16 runes ({PHOTO_PAGE})")
    privacy = info.get("privacy_level")
    if privacy is None and mode == "DIRECT_POST":
        problems.append(f"post_info.privacy_level is required for DIRECT_POST ({PHOTO_PAGE})")
    elif privacy is not None and privacy not in PRIVACY_LEVELS:
        problems.append(f"post_info.privacy_level {privacy!r} is not one of {', '.join(PRIVACY_LEVELS)} ({PHOTO_PAGE})")
    return problems


def _source_info(source: dict) -> list[str]:
    problems = _fields(source, SOURCE_INFO, "source_info.", required=True)
    if source.get("source") != "PULL_FROM_URL":
        problems.append(f"source_info.source must be PULL_FROM_URL (the only source for photos) ({PHOTO_PAGE})")
    images = source.get("photo_images")
    if isinstance(images, list):
        if not 1 <= len(images) <= MAX_PHOTOS:
            problems.append(f"source_info.photo_images lists {len(images)} URLs; up to {MAX_PHOTOS} ({PHOTO_PAGE})")
        if not all(isinstance(url, str) and url.startswith(("https://", "http://")) for url in images):
            problems.append(f"source_info.photo_images must be photo content URLs ({PHOTO_PAGE})")
        cover = source.get("photo_cover_index")
        if isinstance(cover, int) and not isinstance(cover, bool) and not 0 <= cover < len(images):
            problems.append(f"source_info.photo_cover_index {cover} is not an index into photo_images (from 0) "
                            f"({PHOTO_PAGE})")
    return problems


def _answer(exchange: Exchange) -> list[str]:
    """Every answer carries error {code, message, log_id}; success carries data.publish_id."""
    if exchange.dropped:
        return []
    answer = exchange.response_json()
    if not isinstance(answer, dict) or not isinstance(answer.get("error"), dict):
        return [f"the answer must be JSON with an error object {{code, message, log_id}} ({ERRORS_PAGE})"]
    error = answer["error"]
    problems = [f"the answer's error.{k} is missing ({ERRORS_PAGE})" for k in ("code", "message", "log_id")
                if k not in error]
    if error.get("code") == "ok":
        data = answer.get("data")
        if exchange.status != 200:
            problems.append(f"error.code ok with HTTP {exchange.status} ({ERRORS_PAGE})")
        if not isinstance(data, dict) or not isinstance(data.get("publish_id"), str) or not data["publish_id"]:
            problems.append(f"a successful answer carries data.publish_id (string) ({PHOTO_PAGE})")
    return problems
