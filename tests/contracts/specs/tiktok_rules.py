"""TikTok's documented API rules, transcribed by hand: TikTok publishes no machine-readable
specification (no OpenAPI, no discovery document). Every rule names the page it comes from; the
checker (tests/contracts/tiktok.py) applies them to each recorded exchange.

Pages (developers.tiktok.com, read 2026-12):
"""

from __future__ import annotations

DOC = "https://developers.tiktok.com/doc/"
CREATOR_INFO = DOC + "content-posting-api-reference-query-creator-info"
DIRECT_POST = DOC + "content-posting-api-reference-direct-post"
MEDIA_TRANSFER = DOC + "content-posting-api-media-transfer-guide"
POST_STATUS = DOC + "content-posting-api-reference-get-video-status"
PHOTO_POST = DOC + "content-posting-api-reference-photo-post"
OAUTH = DOC + "oauth-user-access-token-management"
LOGIN_KIT_WEB = DOC + "login-kit-web"
VIDEO_QUERY = DOC + "tiktok-api-v2-video-query"
VIDEO_OBJECT = DOC + "tiktok-api-v2-video-object"
USER_INFO = DOC + "tiktok-api-v2-get-user-info"
ERROR_HANDLING = DOC + "tiktok-api-v2-error-handling"

MiB = 1024 * 1024

# -- the envelope of every open.tiktokapis.com JSON answer [ERROR_HANDLING] -----------------------------
# {"data": {...}, "error": {"code": "ok" | <code>, "message": str, "log_id": str}}
ERROR_CODES = {  # code -> (documented HTTP status, page)
    "ok": (200, ERROR_HANDLING),
    "invalid_param": (400, DIRECT_POST),
    "access_token_invalid": (401, ERROR_HANDLING),
    "scope_not_authorized": (401, ERROR_HANDLING),
    "scope_permission_missed": (400, ERROR_HANDLING),
    "rate_limit_exceeded": (429, ERROR_HANDLING),
    "internal_error": (500, ERROR_HANDLING),
    "spam_risk_too_many_posts": (403, DIRECT_POST),
    "spam_risk_user_banned_from_posting": (403, DIRECT_POST),
    "spam_risk_too_many_pending_share": (403, DOC + "content-posting-api-reference-upload-video"),
    "reached_active_user_cap": (403, DIRECT_POST),
    "unaudited_client_can_only_post_to_private_accounts": (403, DIRECT_POST),
    "url_ownership_unverified": (403, DIRECT_POST),
    "privacy_level_option_mismatch": (403, DIRECT_POST),
    "invalid_publish_id": (400, POST_STATUS),
    "token_not_authorized_for_specified_publish_id": (400, POST_STATUS),
}
JSON_CONTENT_TYPE = "application/json"  # "application/json; charset=UTF-8" [DIRECT_POST, CREATOR_INFO, POST_STATUS]

# -- POST /v2/post/publish/creator_info/query/ [CREATOR_INFO] ------------------------------------------
CREATOR_INFO_FIELDS = {  # data field -> JSON type
    "creator_avatar_url": str, "creator_username": str, "creator_nickname": str, "privacy_level_options": list,
    "comment_disabled": bool, "duet_disabled": bool, "stitch_disabled": bool, "max_video_post_duration_sec": int,
}

# -- POST /v2/post/publish/video/init/ [DIRECT_POST] -------------------------------------------------
PRIVACY_LEVELS = {"PUBLIC_TO_EVERYONE", "MUTUAL_FOLLOW_FRIENDS", "FOLLOWER_OF_CREATOR", "SELF_ONLY"}
POST_INFO_FIELDS = {  # field -> (JSON type, required)
    "privacy_level": (str, True), "title": (str, False), "disable_duet": (bool, False),
    "disable_stitch": (bool, False), "disable_comment": (bool, False), "video_cover_timestamp_ms": (int, False),
    "brand_content_toggle": (bool, True), "brand_organic_toggle": (bool, False), "is_aigc": (bool, False),
}
TITLE_MAX_UTF16 = 2200  # "The maximum length is 2200 in UTF-16 runes"
SOURCES = {"FILE_UPLOAD", "PULL_FROM_URL"}
FILE_UPLOAD_FIELDS = ("video_size", "chunk_size", "total_chunk_count")  # int64, required for FILE_UPLOAD
INIT_ANSWER = {"publish_id": 64, "upload_url": 256}  # string fields and their documented maximum length

# -- chunk rules [MEDIA_TRANSFER, "Chunk restrictions"] -------------------------------------------------
MIN_CHUNK, MAX_CHUNK, MAX_FINAL_CHUNK = 5 * MiB, 64 * MiB, 128 * MiB
MAX_CHUNKS = 1000
MAX_VIDEO = 4 * 1024 * MiB  # "Maximum of 4GB" (video restrictions)

# -- PUT {upload_url} [MEDIA_TRANSFER, "Media transfer HTTP schema" and "Response"] ---------------------
VIDEO_MIME_TYPES = {"video/mp4", "video/quicktime", "video/webm"}
UPLOAD_STATUSES = {201, 206, 400, 403, 404, 416}  # and 5xx
# "The response header includes ... Content-Range: bytes 0-{UPLOADED_BYTES}/{TOTAL_BYTE_LENGTH}"

# -- POST /v2/post/publish/status/fetch/ [POST_STATUS] --------------------------------------------------
STATUSES = {"PROCESSING_UPLOAD", "PROCESSING_DOWNLOAD", "SEND_TO_USER_INBOX", "PUBLISH_COMPLETE", "FAILED"}
STATUS_FIELDS = {  # data field -> JSON type; publicaly_available_post_id (sic) is list<int64>
    "status": str, "fail_reason": str, "publicaly_available_post_id": list, "uploaded_bytes": int,
    "downloaded_bytes": int,
}

# -- POST /v2/video/query/ [VIDEO_QUERY; fields: VIDEO_OBJECT] ------------------------------------------
VIDEO_FIELDS = {"id", "create_time", "cover_image_url", "share_url", "video_description", "duration", "height",
                "width", "title", "embed_html", "embed_link", "like_count", "comment_count", "share_count",
                "view_count"}
VIDEO_QUERY_MAX_IDS = 20
VIDEO_QUERY_ANSWER = {"videos": list, "cursor": int, "has_more": bool}

# -- GET /v2/user/info/ [USER_INFO] ---------------------------------------------------------------------
USER_FIELDS = {"open_id", "union_id", "avatar_url", "avatar_url_100", "avatar_large_url", "display_name",
               "bio_description", "profile_deep_link", "is_verified", "username", "follower_count",
               "following_count", "likes_count", "video_count"}

# -- POST /v2/oauth/token/ [OAUTH] ----------------------------------------------------------------------
TOKEN_GRANTS = {  # grant_type -> required form fields (plus client_key, client_secret)
    "authorization_code": {"code", "redirect_uri"},
    "refresh_token": {"refresh_token"},
}
TOKEN_OPTIONAL = {"code_verifier"}  # mobile and desktop apps only [LOGIN_KIT_WEB]
TOKEN_ANSWER = {"access_token": str, "expires_in": int, "open_id": str, "refresh_token": str,
                "refresh_expires_in": int, "scope": str, "token_type": str}
TOKEN_ERROR = {"error": str, "error_description": str, "log_id": str}

# -- GET https://www.tiktok.com/v2/auth/authorize/ [LOGIN_KIT_WEB] -------------------------------------
AUTHORIZE_REQUIRED = {"client_key", "scope", "redirect_uri", "state", "response_type"}
AUTHORIZE_OPTIONAL = {"disable_auto_auth", "code_challenge", "code_challenge_method"}
