"""The TikTok sandbox's photo posts: POST /v2/post/publish/content/init/ (media_type PHOTO).

`check_init` holds the request rules of the photo post reference
[developers.tiktok.com/doc/content-posting-api-reference-photo-post]; `pull` fetches each image the
way TikTok does after init answers, and judges it by the image restrictions of the media transfer
guide [developers.tiktok.com/doc/content-posting-api-media-transfer-guide]. A bad image does not
refuse init: it fails the post, seen through the status fetch as FAILED with a fail_reason
[developers.tiktok.com/doc/content-posting-api-reference-get-video-status].

Where the documents are silent the sandbox takes the strict side: a field the reference does not
define is refused (TikTok would ignore it, silently dropping what the client meant), a redirect is
not followed, and an image whose size cannot be read fails the format check.
"""

from __future__ import annotations

import struct
from typing import Any

import requests

from infra.local.sandboxes.base import refuse_unknown
from infra.local.sandboxes.instagram import jpeg_size

PRIVACY_LEVELS = ("PUBLIC_TO_EVERYONE", "MUTUAL_FOLLOW_FRIENDS", "FOLLOWER_OF_CREATOR", "SELF_ONLY")
POST_MODES = ("DIRECT_POST", "MEDIA_UPLOAD")
TOP_FIELDS = {"media_type", "post_mode", "post_info", "source_info"}
POST_INFO_FIELDS = {"title": str, "description": str, "privacy_level": str, "disable_comment": bool,
                    "auto_add_music": bool, "brand_content_toggle": bool, "brand_organic_toggle": bool}
SOURCE_INFO_FIELDS = {"source", "photo_images", "photo_cover_index"}
TITLE_MAX, DESCRIPTION_MAX, MAX_PHOTOS = 90, 4000, 35  # UTF-16 code units; images per post
MAX_PHOTO_BYTES = 20 * 1024 * 1024
MAX_LONG_SIDE, MAX_SHORT_SIDE = 1920, 1080  # "maximum 1080p", either way up
# Scope per post_mode: direct posts need video.publish, uploads to the inbox video.upload.
MODE_SCOPE = {"DIRECT_POST": "video.publish", "MEDIA_UPLOAD": "video.upload"}


class Refusal(Exception):
    """An init TikTok refuses: (http status, error.code, message)."""


def _bad(message: str) -> Refusal:
    return Refusal(400, "invalid_param", message)


def _utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def check_init(payload: dict, creator: dict, scopes: set[str], verified_prefixes: tuple[str, ...]) -> dict:
    """The request as stored ({media_type, post_mode, post_info, source_info}), or Refusal."""
    refuse_unknown(payload, TOP_FIELDS, lambda name: _bad(f"unknown field {name!r}"))
    if payload.get("media_type") != "PHOTO":
        raise _bad("media_type must be PHOTO")
    mode = payload.get("post_mode")
    if mode not in POST_MODES:
        raise _bad("post_mode must be DIRECT_POST or MEDIA_UPLOAD")
    if MODE_SCOPE[mode] not in scopes:
        raise Refusal(401, "scope_not_authorized", f"post_mode {mode} needs the {MODE_SCOPE[mode]} scope")
    post_info = _check_post_info(payload.get("post_info"), creator, mode)
    source_info = _check_source_info(payload.get("source_info"), verified_prefixes)
    return {"media_type": "PHOTO", "post_mode": mode, "post_info": post_info, "source_info": source_info}


def _check_post_info(post_info: Any, creator: dict, mode: str) -> dict:
    if not isinstance(post_info, dict):
        raise _bad("post_info is required and must be an object")
    for field, value in post_info.items():
        kind = POST_INFO_FIELDS.get(field)
        if kind is None:
            raise _bad(f"post_info.{field} is not a photo post field")
        if not isinstance(value, kind):
            raise _bad(f"post_info.{field} must be a {'boolean' if kind is bool else 'string'}")
    if _utf16(post_info.get("title", "")) > TITLE_MAX:
        raise _bad(f"post_info.title exceeds {TITLE_MAX} UTF-16 runes")
    if _utf16(post_info.get("description", "")) > DESCRIPTION_MAX:
        raise _bad(f"post_info.description exceeds {DESCRIPTION_MAX} UTF-16 runes")
    privacy = post_info.get("privacy_level")
    if mode == "DIRECT_POST":
        if not privacy:
            raise _bad("post_info.privacy_level is required for DIRECT_POST")
        if privacy not in PRIVACY_LEVELS:
            raise _bad(f"post_info.privacy_level must be one of {', '.join(PRIVACY_LEVELS)}")
        if privacy not in creator["privacy_level_options"]:
            raise Refusal(403, "privacy_level_option_mismatch",
                          "post_info.privacy_level is not in the creator's privacy_level_options")
        if creator.get("comment_disabled") and post_info.get("disable_comment") is not True:
            raise _bad("post_info.disable_comment must be true: the creator has comment_disabled")
        if post_info.get("brand_content_toggle") and privacy == "SELF_ONLY":
            raise _bad("post_info.brand_content_toggle cannot be used with SELF_ONLY")
    return dict(post_info)


def _check_source_info(source_info: Any, verified_prefixes: tuple[str, ...]) -> dict:
    if not isinstance(source_info, dict):
        raise _bad("source_info is required and must be an object")
    refuse_unknown(source_info, SOURCE_INFO_FIELDS, lambda name: _bad(f"source_info.{name} is not a photo post field"))
    if source_info.get("source") != "PULL_FROM_URL":
        raise _bad("source_info.source must be PULL_FROM_URL (the only source for photos)")
    images = source_info.get("photo_images")
    if not isinstance(images, list) or not 1 <= len(images) <= MAX_PHOTOS:
        raise _bad(f"source_info.photo_images must list 1 to {MAX_PHOTOS} URLs")
    if not all(isinstance(url, str) and url.startswith(("https://", "http://")) for url in images):
        raise _bad("source_info.photo_images must be URLs")
    cover = source_info.get("photo_cover_index")
    if isinstance(cover, bool) or not isinstance(cover, int):
        raise _bad("source_info.photo_cover_index is required and must be an int")
    if not 0 <= cover < len(images):
        raise _bad(f"source_info.photo_cover_index must be 0..{len(images) - 1}")
    for url in images:
        if not any(url.startswith(prefix) for prefix in verified_prefixes):
            raise Refusal(403, "url_ownership_unverified",
                          "the photo URL's domain or URL prefix is not verified for this app")
    return {"source": "PULL_FROM_URL", "photo_images": list(images), "photo_cover_index": cover}


def pull(urls: list[str], *, timeout: float) -> tuple[str | None, list[dict], list[bytes]]:
    """Fetch every image as TikTok would: (fail_reason or None, what was found per image, the bytes)."""
    found, blobs = [], []
    for url in urls:
        reason, seen, data = _pull_one(url, timeout)
        found.append(seen)
        blobs.append(data)
        if reason:
            return reason, found, blobs
    return None, found, blobs


def _pull_one(url: str, timeout: float) -> tuple[str | None, dict, bytes]:
    try:
        with requests.get(url, timeout=timeout, stream=True, allow_redirects=False) as response:
            status = response.status_code
            data = response.raw.read(MAX_PHOTO_BYTES + 1, decode_content=True) if status == 200 else b""
    except requests.RequestException:
        return "photo_pull_failed", {"http_status": None}, b""
    seen: dict[str, Any] = {"http_status": status, "bytes": len(data)}
    if status != 200:
        return "photo_pull_failed", seen, b""
    if len(data) > MAX_PHOTO_BYTES:
        return "picture_size_check_failed", seen, b""
    kind, size = _image_kind(data)
    seen.update(format=kind, width=size[0] if size else None, height=size[1] if size else None)
    if kind is None or size is None:
        return "file_format_check_failed", seen, data
    if max(size) > MAX_LONG_SIDE or min(size) > MAX_SHORT_SIDE:
        return "picture_size_check_failed", seen, data
    return None, seen, data


def _image_kind(data: bytes) -> tuple[str | None, tuple[int, int] | None]:
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg", jpeg_size(data)
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp", _webp_size(data)
    return None, None


def _webp_size(data: bytes) -> tuple[int, int] | None:
    chunk = data[12:16]
    if chunk == b"VP8X" and len(data) >= 30:
        return int.from_bytes(data[24:27], "little") + 1, int.from_bytes(data[27:30], "little") + 1
    if chunk == b"VP8 " and len(data) >= 30 and data[23:26] == b"\x9d\x01\x2a":
        width, height = struct.unpack("<HH", data[26:30])
        return width & 0x3FFF, height & 0x3FFF
    if chunk == b"VP8L" and len(data) >= 25 and data[20] == 0x2F:
        bits = int.from_bytes(data[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    return None
