"""LinkedIn contract check: each exchange with the LinkedIn sandbox against LinkedIn's documented
rules (tests/contracts/specs/linkedin_rules.py, every rule with its Microsoft Learn page).

Requests: the operation (method and path), the headers every versioned call needs (Bearer token,
a LinkedIn-Version LinkedIn still supports, X-Restli-Protocol-Version 2.0.0, JSON for writes),
URL-encoded URNs in paths and in Rest.li List(...), and each body's fields and enums. Answers with
a 2xx are checked against the documented shape (the x-restli-id of a created post, the upload
instructions, statuses, statistics); errors against LinkedIn's error shape.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from urllib.parse import unquote

from infra.local.sandboxes.recording import Exchange
from tests.contracts import Verdict
from tests.contracts.specs import linkedin_rules as R

_ASSET_PATH = re.compile(r"^/rest/(posts|images|videos)/([^/]+)$")


def check(exchange: Exchange, *, today: date | None = None) -> Verdict:
    """`today`: the day the version's support is judged on (default: now, UTC)."""
    if exchange.path.startswith("/_sandbox/"):  # the sandbox's own control paths, not LinkedIn's API
        return Verdict(None, [])
    route = _route(exchange)
    if route is None:
        return Verdict(f"linkedin.unknown {exchange.method} {exchange.path}",
                       [f"{exchange.method} {exchange.path} is not an operation LinkedIn documents (or Postgate uses)"])
    operation, check_request, check_answer = route
    problems: list[str] = []
    check_request(exchange, problems, today or datetime.now(UTC).date())
    answered = False
    if not exchange.dropped:
        answered = _check_answer(exchange, check_answer, problems)
    return Verdict(operation, problems, response_checked=answered)


# -- routing ---------------------------------------------------------------------------------------

def _route(x: Exchange):
    method, path, action = x.method, x.path, x.params().get("action")
    if path == "/rest/posts":
        if method == "POST":
            return "linkedin.posts.create", _posts_create, _posts_create_answer
        if method == "GET":
            return "linkedin.posts.findByAuthor", _posts_find, _posts_find_answer
    if path in ("/rest/images", "/rest/videos") and method == "POST":
        kind = path.rsplit("/", 1)[-1]
        if action == "initializeUpload":
            return (f"linkedin.{kind}.initializeUpload", _images_init if kind == "images" else _videos_init,
                    _images_init_answer if kind == "images" else _videos_init_answer)
        if action == "finalizeUpload" and kind == "videos":
            return "linkedin.videos.finalizeUpload", _videos_finalize, _empty_answer
        return None
    asset = _ASSET_PATH.match(path)
    if asset:
        kind = asset.group(1)
        if method == "GET":
            return f"linkedin.{kind}.get", _asset_get, {"posts": _post_answer, "images": _image_answer,
                                                        "videos": _video_answer}[kind]
        if method == "DELETE" and kind == "posts":
            return "linkedin.posts.delete", _posts_delete, _empty_answer
        return None
    if path == "/rest/organizationalEntityShareStatistics" and method == "GET":
        return "linkedin.organizationalEntityShareStatistics.q=organizationalEntity", _share_statistics, _share_statistics_answer
    # Upload URLs are opaque (the init answer's uploadUrl); the sandbox hands out /dms-uploads/{image|video}/...
    if method == "PUT" and path.startswith("/dms-uploads/image/"):
        return "linkedin.images.upload", _image_upload, _any_answer
    if method == "PUT" and path.startswith("/dms-uploads/video/"):
        return "linkedin.videos.uploadPart", _video_part, _video_part_answer
    if path == "/oauth/v2/accessToken" and method == "POST":
        return "linkedin.oauth.accessToken", _token, _token_answer
    if path == "/oauth/v2/authorization" and method == "GET":
        return "linkedin.oauth.authorization", _authorize, None
    if path == "/v2/userinfo" and method == "GET":
        return "linkedin.userinfo", _userinfo, _userinfo_answer
    return None


# -- headers ---------------------------------------------------------------------------------------

def _bearer(x: Exchange, problems: list[str]) -> None:
    value = x.headers.get("authorization", "")
    if not (value.startswith("Bearer ") and value[7:].strip()):
        problems.append("Authorization: Bearer <member access token> is required")


def version_problem(version: str, today: date) -> str | None:
    """Why `version` is not a LinkedIn-Version LinkedIn serves on `today` (None when it is)."""
    match = R.VERSION_FORMAT.match(version)
    if not match:
        return f"LinkedIn-Version {version!r} is not YYYYMM [{R.VERSIONING}]"
    year, month = int(match.group(1)), int(match.group(2))
    if not 1 <= month <= 12:
        return f"LinkedIn-Version {version!r} names no month [{R.VERSIONING}]"
    if (year, month) > (today.year, today.month):
        return f"LinkedIn-Version {version} is not released yet on {today} [{R.VERSIONING}]"
    sunset = R.SUNSET_DATES.get(version[:6])
    if sunset is not None:
        if date.fromisoformat(sunset) <= today:
            return f"LinkedIn-Version {version} was sunset on {sunset} (LinkedIn answers 426) [{R.MIGRATIONS}]"
        return None
    ends = year * 12 + month - 1 + R.MIN_SUPPORT_MONTHS
    if (ends // 12, ends % 12 + 1) <= (today.year, today.month):
        return (f"LinkedIn-Version {version} is past its minimum {R.MIN_SUPPORT_MONTHS} months of support on {today} "
                f"and may be sunset any day: move to a newer version [{R.VERSIONING}]")
    return None


def _versioned(x: Exchange, problems: list[str], today: date, *, body: bool) -> None:
    """What every /rest call carries [VERSIONING, PROTOCOL_VERSION]."""
    _bearer(x, problems)
    version = x.headers.get("linkedin-version")
    if not version:
        problems.append(f"LinkedIn-Version: YYYYMM is required on every /rest call [{R.VERSIONING}]")
    else:
        problem = version_problem(version, today)
        if problem:
            problems.append(problem)
    if x.headers.get("x-restli-protocol-version") != R.RESTLI_PROTOCOL:
        problems.append(f"X-Restli-Protocol-Version: {R.RESTLI_PROTOCOL} is required [{R.PROTOCOL_VERSION}]")
    if body and x.content_type != "application/json":
        problems.append(f"a /rest write carries Content-Type application/json, not {x.content_type or 'none'!r}")
    if not body and x.body_size:
        problems.append(f"{x.method} {x.path} takes no body")


def _json_object(x: Exchange, problems: list[str]) -> dict:
    data = x.json()
    if not isinstance(data, dict):
        problems.append("the body is not a JSON object")
        return {}
    return data


def _unknown(fields, allowed: set[str], where: str, source: str) -> list[str]:
    extra = sorted(set(fields) - allowed)
    return [f"{where} has field(s) LinkedIn does not define: {', '.join(extra)} [{source}]"] if extra else []


def _raw_path_urn_encoded(x: Exchange, problems: list[str]) -> None:
    raw_path = x.raw_uri.split("?", 1)[0]
    tail = raw_path.rsplit("/", 1)[-1]
    if raw_path and ":" in tail:
        problems.append(f"the URN in the path must be URL-encoded (urn%3Ali%3A...), got {tail} [{R.URN_ENCODING}]")


# -- posts -----------------------------------------------------------------------------------------

def _posts_create(x: Exchange, problems: list[str], today: date) -> None:
    _versioned(x, problems, today, body=True)
    post = _json_object(x, problems)
    if not post:
        return
    problems += _unknown(post, R.POST_WRITABLE, "the post", R.POST_SCHEMA)
    missing = [f for f in R.POST_REQUIRED if f not in post]
    if missing:
        problems.append(f"the post lacks required field(s) {', '.join(missing)} [{R.POST_SCHEMA}]")
    if "author" in post and not (isinstance(post["author"], str) and R.AUTHOR_URN.match(post["author"])):
        problems.append(f"author must be urn:li:person:… or urn:li:organization:…, got {post['author']!r} [{R.POST_SCHEMA}]")
    commentary = post.get("commentary")
    if "commentary" in post and not isinstance(commentary, str):
        problems.append(f"commentary is little text (a string) [{R.LITTLE_TEXT}]")
    elif isinstance(commentary, str) and len(commentary) > R.COMMENTARY_MAX:
        problems.append(f"commentary is {len(commentary)} characters; at most {R.COMMENTARY_MAX} [{R.LITTLE_TEXT}]")
    if "visibility" in post and post["visibility"] not in R.VISIBILITY:
        problems.append(f"visibility {post['visibility']!r} is not one of {sorted(R.VISIBILITY)} [{R.POST_SCHEMA}]")
    if "lifecycleState" in post and post["lifecycleState"] not in R.LIFECYCLE_ON_CREATE:
        problems.append(f"lifecycleState {post['lifecycleState']!r} on create must be one of "
                        f"{sorted(R.LIFECYCLE_ON_CREATE)} [{R.POST_SCHEMA}]")
    if "isReshareDisabledByAuthor" in post and not isinstance(post["isReshareDisabledByAuthor"], bool):
        problems.append(f"isReshareDisabledByAuthor is a boolean [{R.POST_SCHEMA}]")
    if "distribution" in post:
        _distribution(post["distribution"], problems)
    if post.get("content") is not None:
        _content(post["content"], problems)


def _distribution(distribution, problems: list[str]) -> None:
    if not isinstance(distribution, dict):
        problems.append(f"distribution is an object [{R.POST_SCHEMA}]")
        return
    problems += _unknown(distribution, R.DISTRIBUTION_FIELDS, "distribution", R.POST_SCHEMA)
    if distribution.get("feedDistribution") not in R.FEED_DISTRIBUTION:
        problems.append(f"distribution.feedDistribution is required, one of {sorted(R.FEED_DISTRIBUTION)}, got "
                        f"{distribution.get('feedDistribution')!r} [{R.POST_SCHEMA}]")
    for key in ("targetEntities", "thirdPartyDistributionChannels"):
        if key in distribution and not isinstance(distribution[key], list):
            problems.append(f"distribution.{key} is an array [{R.POST_SCHEMA}]")


def _content(content, problems: list[str]) -> None:
    if not isinstance(content, dict) or len(content) != 1:
        problems.append(f"content holds exactly one of {sorted(R.CONTENT_KINDS)} [{R.POST_SCHEMA}]")
        return
    problems += _unknown(content, R.CONTENT_KINDS, "content", R.POST_SCHEMA)
    media = content.get("media")
    if "media" not in content:
        return
    if not isinstance(media, dict):
        problems.append(f"content.media is an object [{R.POST_SCHEMA}]")
        return
    problems += _unknown(media, R.MEDIA_FIELDS, "content.media", R.POST_SCHEMA)
    urn = media.get("id")
    if not isinstance(urn, str) or not any(p.match(urn) for p in R.MEDIA_URNS):
        problems.append(f"content.media.id must be an image, video or document URN, got {urn!r} [{R.POST_SCHEMA}]")
    elif "altText" in media and not R.IMAGE_URN.match(urn):
        problems.append(f"content.media.altText applies to images only [{R.POST_SCHEMA}]")
    for key in ("title", "altText"):
        if key in media and not isinstance(media[key], str):
            problems.append(f"content.media.{key} is a string [{R.POST_SCHEMA}]")


def _posts_find(x: Exchange, problems: list[str], today: date) -> None:
    _versioned(x, problems, today, body=False)
    params = x.params()
    problems += _unknown(params, R.FIND_PARAMS, "the find-by-author query", R.POSTS_API)
    if params.get("q") != "author":
        problems.append(f"GET /rest/posts is the author finder: q=author is required [{R.POSTS_API}]")
    if not R.AUTHOR_URN.match(params.get("author", "")):
        problems.append(f"author must be a person or organization URN [{R.POSTS_API}]")
    if "sortBy" in params and params["sortBy"] not in R.FIND_SORTS:
        problems.append(f"sortBy {params['sortBy']!r} is not one of {sorted(R.FIND_SORTS)} [{R.POSTS_API}]")
    if "viewContext" in params and params["viewContext"] not in R.FIND_VIEW_CONTEXTS:
        problems.append(f"viewContext {params['viewContext']!r} is not one of {sorted(R.FIND_VIEW_CONTEXTS)} [{R.POSTS_API}]")
    for key, low, high in (("start", 0, None), ("count", 1, R.FIND_MAX_COUNT)):
        if key in params:
            value = params[key]
            if not value.isdigit() or int(value) < low or (high is not None and int(value) > high):
                problems.append(f"{key}={value!r} must be an integer {low}..{high or ''} [{R.POSTS_API}]")
    method = x.headers.get("x-restli-method")
    if method is not None and method.upper() != "FINDER":
        problems.append(f"X-RestLi-Method of a finder is FINDER, not {method!r} [{R.PROTOCOL_VERSION}]")


def _asset_get(x: Exchange, problems: list[str], today: date) -> None:
    _versioned(x, problems, today, body=False)
    _raw_path_urn_encoded(x, problems)
    problems += _unknown(x.params(), set(), f"{x.method} {x.path}", R.POSTS_API)
    kind = x.path.split("/")[2]
    urn = unquote(x.path.rsplit("/", 1)[-1])
    pattern = {"posts": R.POST_URN, "images": R.IMAGE_URN, "videos": R.VIDEO_URN}[kind]
    if not pattern.match(urn):
        problems.append(f"{urn!r} is not a {kind[:-1]} URN")


def _posts_delete(x: Exchange, problems: list[str], today: date) -> None:
    _asset_get(x, problems, today)


# -- images and videos -----------------------------------------------------------------------------

def _owner(value, where: str, source: str, problems: list[str]) -> None:
    if not (isinstance(value, str) and R.AUTHOR_URN.match(value)):
        problems.append(f"{where}.owner must be a person or organization URN, got {value!r} [{source}]")


def _wrapped_request(x: Exchange, problems: list[str], today: date, key: str, fields, source: str) -> dict | None:
    """A versioned upload call whose body is `{key: {...}}` with only `fields` inside: the inner object."""
    _versioned(x, problems, today, body=True)
    body = _json_object(x, problems)
    problems += _unknown(body, {key}, "the body", source)
    req = body.get(key)
    if not isinstance(req, dict):
        problems.append(f"{key} is required [{source}]")
        return None
    problems += _unknown(req, fields, key, source)
    return req


def _images_init(x: Exchange, problems: list[str], today: date) -> None:
    req = _wrapped_request(x, problems, today, "initializeUploadRequest", R.IMAGE_INIT_FIELDS, R.IMAGES_API)
    if req is not None:
        _owner(req.get("owner"), "initializeUploadRequest", R.IMAGES_API, problems)


def _videos_init(x: Exchange, problems: list[str], today: date) -> None:
    req = _wrapped_request(x, problems, today, "initializeUploadRequest", R.VIDEO_INIT_FIELDS, R.VIDEOS_API)
    if req is None:
        return
    missing = [f for f in R.VIDEO_INIT_REQUIRED if f not in req]
    if missing:
        problems.append(f"initializeUploadRequest lacks {', '.join(missing)} [{R.VIDEOS_API}]")
    _owner(req.get("owner"), "initializeUploadRequest", R.VIDEOS_API, problems)
    size = req.get("fileSizeBytes")
    if "fileSizeBytes" in req and (isinstance(size, bool) or not isinstance(size, int) or size < 1):
        problems.append(f"fileSizeBytes is a positive long [{R.VIDEOS_API}]")
    for flag in ("uploadCaptions", "uploadThumbnail"):
        if flag in req and not isinstance(req[flag], bool):
            problems.append(f"{flag} is a boolean [{R.VIDEOS_API}]")


def _videos_finalize(x: Exchange, problems: list[str], today: date) -> None:
    req = _wrapped_request(x, problems, today, "finalizeUploadRequest", R.VIDEO_FINALIZE_FIELDS, R.VIDEOS_API)
    if req is None:
        return
    missing = sorted(R.VIDEO_FINALIZE_FIELDS - set(req))
    if missing:
        problems.append(f"finalizeUploadRequest lacks {', '.join(missing)} [{R.VIDEOS_API}]")
    if "video" in req and not (isinstance(req["video"], str) and R.VIDEO_URN.match(req["video"])):
        problems.append(f"finalizeUploadRequest.video must be the video URN [{R.VIDEOS_API}]")
    parts = req.get("uploadedPartIds")
    if "uploadedPartIds" in req and not (isinstance(parts, list) and parts and all(isinstance(p, str) and p for p in parts)):
        problems.append(f"uploadedPartIds lists each part's ETag, in order [{R.VIDEOS_API}]")


def _image_upload(x: Exchange, problems: list[str], today: date) -> None:
    _bearer(x, problems)  # LinkedIn's image upload example sends the member token with the bytes
    if not x.body_size:
        problems.append(f"the image upload carries the image bytes [{R.IMAGES_API}]")


def _video_part(x: Exchange, problems: list[str], today: date) -> None:
    if x.content_type != "application/octet-stream":
        problems.append(f"a video part is sent as application/octet-stream, not {x.content_type or 'none'!r} [{R.VIDEOS_API}]")
    if not x.body_size:
        problems.append(f"a video part carries its byte range [{R.VIDEOS_API}]")


# -- statistics ------------------------------------------------------------------------------------

def _share_statistics(x: Exchange, problems: list[str], today: date) -> None:
    _versioned(x, problems, today, body=False)
    params = x.params()
    problems += _unknown(params, R.SHARE_STATISTICS_PARAMS, "the share statistics query", R.SHARE_STATISTICS)
    if params.get("q") != "organizationalEntity":
        problems.append(f"q=organizationalEntity is required [{R.SHARE_STATISTICS}]")
    if not R.ORGANIZATION_URN.match(params.get("organizationalEntity", "")):
        problems.append(f"organizationalEntity must be an organization URN [{R.SHARE_STATISTICS}]")
    raw_query = x.raw_uri.split("?", 1)[1] if "?" in x.raw_uri else ""
    for param, kind in (("shares", "share"), ("ugcPosts", "ugcPost")):
        if param not in params:
            continue
        listed = re.fullmatch(r"List\((.*)\)", params[param])
        if not listed:
            problems.append(f"{param} is a Rest.li 2.0 List(...) [{R.SHARE_STATISTICS}]")
            continue
        for urn in filter(None, listed.group(1).split(",")):
            if not re.fullmatch(rf"urn:li:{kind}:\d+", urn):
                problems.append(f"{param} takes urn:li:{kind} URNs, got {urn!r} [{R.SHARE_STATISTICS}]")
    if re.search(r"(?:^|&)(?:shares|ugcPosts)=List\([^)]*urn:", raw_query):
        problems.append(f"URNs inside List(...) must be URL-encoded (urn%3Ali%3A...) [{R.URN_ENCODING}]")
    if not ({"shares", "ugcPosts"} & set(params)):
        problems.append(f"name the posts: shares=List(...) and/or ugcPosts=List(...) [{R.SHARE_STATISTICS}]")


# -- OAuth and identity ----------------------------------------------------------------------------

def _token(x: Exchange, problems: list[str], today: date) -> None:
    if x.content_type != "application/x-www-form-urlencoded":
        problems.append(f"the token request is a form (application/x-www-form-urlencoded) [{R.AUTHORIZATION_CODE_FLOW}]")
        return
    form = x.form()
    grant = form.get("grant_type")
    if grant not in R.TOKEN_GRANTS:
        problems.append(f"grant_type {grant!r} is not one of {sorted(R.TOKEN_GRANTS)} [{R.REFRESH_TOKENS}]")
        return
    needed = R.TOKEN_GRANTS[grant]
    missing = [f for f in needed if not form.get(f)]
    if missing:
        source = R.REFRESH_TOKENS if grant == "refresh_token" else R.AUTHORIZATION_CODE_FLOW
        problems.append(f"grant_type={grant} needs {', '.join(missing)} [{source}]")
    problems += _unknown(form, {"grant_type", *needed}, f"the {grant} form", R.AUTHORIZATION_CODE_FLOW)


def _authorize(x: Exchange, problems: list[str], today: date) -> None:
    params = x.params()
    problems += _unknown(params, R.AUTHORIZE_PARAMS, "the authorization request", R.AUTHORIZATION_CODE_FLOW)
    missing = [f for f in R.AUTHORIZE_REQUIRED if not params.get(f)]
    if missing:
        problems.append(f"the authorization request lacks {', '.join(missing)} [{R.AUTHORIZATION_CODE_FLOW}]")
    if params.get("response_type", "code") != "code":
        problems.append(f"response_type is code [{R.AUTHORIZATION_CODE_FLOW}]")


def _userinfo(x: Exchange, problems: list[str], today: date) -> None:
    _bearer(x, problems)


# -- answers ---------------------------------------------------------------------------------------

def _check_answer(x: Exchange, check_answer, problems: list[str]) -> bool:
    if check_answer is None:
        return False
    if x.status >= 400:
        _error_answer(x, problems)
        return True
    if x.status < 300:
        check_answer(x, problems)
        return True
    return False


def _error_answer(x: Exchange, problems: list[str]) -> None:
    data = x.response_json()
    if x.path == "/oauth/v2/accessToken":
        if not (isinstance(data, dict) and data.get("error")):
            problems.append(f"a refused token request answers {{error, error_description}} [{R.AUTHORIZATION_CODE_FLOW}]")
        return
    if not (isinstance(data, dict) and "message" in data and data.get("status") == x.status):
        problems.append(f"a LinkedIn error answers {{status, serviceErrorCode, code, message}} with status {x.status} "
                        f"[{R.ERROR_HANDLING}]")
        return
    problems += _unknown(data, R.ERROR_FIELDS, "the error", R.ERROR_HANDLING)


def _answer_object(x: Exchange, problems: list[str], source: str) -> dict:
    data = x.response_json()
    if not isinstance(data, dict):
        problems.append(f"the answer is not a JSON object [{source}]")
        return {}
    return data


def _empty_answer(x: Exchange, problems: list[str]) -> None:
    if x.response_body.strip():
        problems.append(f"{x.method} {x.path} answers with an empty body")


def _any_answer(x: Exchange, problems: list[str]) -> None:
    pass


def _posts_create_answer(x: Exchange, problems: list[str]) -> None:
    if x.status != 201:
        problems.append(f"a created post answers 201, not {x.status} [{R.POSTS_API}]")
    urn = x.response_headers.get("x-restli-id", "")
    if not R.POST_URN.match(urn):
        problems.append(f"a created post's URN (urn:li:share:… or urn:li:ugcPost:…) is in x-restli-id, got {urn!r} "
                        f"[{R.POSTS_API}]")
    _empty_answer(x, problems)


def _post_answer(x: Exchange, problems: list[str], data: dict | None = None) -> None:
    post = data if data is not None else _answer_object(x, problems, R.POSTS_API)
    if not post:
        return
    problems += _unknown(post, R.POST_WRITABLE | R.POST_READ_ONLY, "the post", R.POST_SCHEMA)
    if not R.POST_URN.match(str(post.get("id", ""))):
        problems.append(f"a post's id is its share or ugcPost URN [{R.POST_SCHEMA}]")
    if post.get("visibility") not in R.VISIBILITY:
        problems.append(f"a post's visibility is one of {sorted(R.VISIBILITY)} [{R.POST_SCHEMA}]")
    if post.get("lifecycleState") not in R.LIFECYCLE_STATES:
        problems.append(f"a post's lifecycleState is one of {sorted(R.LIFECYCLE_STATES)} [{R.POST_SCHEMA}]")
    if "distribution" in post:
        _distribution(post["distribution"], problems)
    if post.get("content") is not None:
        _content(post["content"], problems)


def _posts_find_answer(x: Exchange, problems: list[str]) -> None:
    data = _answer_object(x, problems, R.POSTS_API)
    if not data:
        return
    problems += _unknown(data, {"paging", "elements", "metadata"}, "the finder answer", R.POSTS_API)
    if not isinstance(data.get("paging"), dict) or not isinstance(data.get("elements"), list):
        problems.append(f"a finder answers {{paging: {{start, count, links}}, elements: [...]}} [{R.POSTS_API}]")
        return
    for post in data["elements"]:
        _post_answer(x, problems, post if isinstance(post, dict) else {"id": None})


def _images_init_answer(x: Exchange, problems: list[str]) -> None:
    value = _answer_object(x, problems, R.IMAGES_API).get("value")
    if not isinstance(value, dict):
        problems.append(f"initializeUpload answers {{value: {{uploadUrl, image, uploadUrlExpiresAt}}}} [{R.IMAGES_API}]")
        return
    problems += _unknown(value, R.IMAGE_INIT_ANSWER, "value", R.IMAGES_API)
    if not R.IMAGE_URN.match(str(value.get("image", ""))) or not str(value.get("uploadUrl", "")).startswith("http"):
        problems.append(f"value names the image URN and its uploadUrl [{R.IMAGES_API}]")
    if not isinstance(value.get("uploadUrlExpiresAt"), int):
        problems.append(f"value.uploadUrlExpiresAt is epoch milliseconds [{R.IMAGES_API}]")


def _videos_init_answer(x: Exchange, problems: list[str]) -> None:
    value = _answer_object(x, problems, R.VIDEOS_API).get("value")
    if not isinstance(value, dict):
        problems.append(f"initializeUpload answers {{value: {{video, uploadToken, uploadInstructions, ...}}}} [{R.VIDEOS_API}]")
        return
    problems += _unknown(value, R.VIDEO_INIT_ANSWER, "value", R.VIDEOS_API)
    if not R.VIDEO_URN.match(str(value.get("video", ""))) or not isinstance(value.get("uploadToken"), str):
        problems.append(f"value names the video URN and an uploadToken [{R.VIDEOS_API}]")
    instructions = value.get("uploadInstructions")
    if not isinstance(instructions, list) or not instructions:
        problems.append(f"value.uploadInstructions lists the parts [{R.VIDEOS_API}]")
        return
    expected_first = 0
    for item in instructions:
        if not isinstance(item, dict) or set(item) != R.UPLOAD_INSTRUCTION_FIELDS:
            problems.append(f"each upload instruction is {{uploadUrl, firstByte, lastByte}} [{R.VIDEOS_API}]")
            return
        if item["firstByte"] != expected_first or item["lastByte"] < item["firstByte"]:
            problems.append(f"upload instructions cover the file in order without gaps [{R.VIDEOS_API}]")
            return
        expected_first = item["lastByte"] + 1


def _video_part_answer(x: Exchange, problems: list[str]) -> None:
    if not x.response_headers.get("etag"):
        problems.append(f"an uploaded part answers with its ETag header (finalizeUpload lists it) [{R.VIDEOS_API}]")


def _image_answer(x: Exchange, problems: list[str]) -> None:
    image = _answer_object(x, problems, R.IMAGES_API)
    problems += _unknown(image, R.IMAGE_FIELDS, "the image", R.IMAGES_API)
    if image.get("status") not in R.IMAGE_STATUS:
        problems.append(f"an image's status is one of {sorted(R.IMAGE_STATUS)} [{R.IMAGES_API}]")


def _video_answer(x: Exchange, problems: list[str]) -> None:
    video = _answer_object(x, problems, R.VIDEOS_API)
    problems += _unknown(video, R.VIDEO_FIELDS, "the video", R.VIDEOS_API)
    if video.get("status") not in R.VIDEO_STATUS:
        problems.append(f"a video's status is one of {sorted(R.VIDEO_STATUS)} [{R.VIDEOS_API}]")


def _share_statistics_answer(x: Exchange, problems: list[str]) -> None:
    data = _answer_object(x, problems, R.SHARE_STATISTICS)
    elements = data.get("elements")
    if not isinstance(elements, list):
        problems.append(f"the statistics answer has elements [{R.SHARE_STATISTICS}]")
        return
    for element in elements:
        if not isinstance(element, dict) or not isinstance(element.get("totalShareStatistics"), dict):
            problems.append(f"each element carries totalShareStatistics [{R.SHARE_STATISTICS}]")
            continue
        problems += _unknown(element, R.SHARE_STATISTICS_ELEMENT, "a statistics element", R.SHARE_STATISTICS)
        problems += _unknown(element["totalShareStatistics"], R.TOTAL_SHARE_STATISTICS, "totalShareStatistics",
                             R.SHARE_STATISTICS)
        if not R.POST_URN.match(str(element.get("share") or element.get("ugcPost") or "")):
            problems.append(f"each element names its share or ugcPost [{R.SHARE_STATISTICS}]")


def _token_answer(x: Exchange, problems: list[str]) -> None:
    data = _answer_object(x, problems, R.REFRESH_TOKENS)
    problems += _unknown(data, R.TOKEN_ANSWER, "the token answer", R.REFRESH_TOKENS)
    if not isinstance(data.get("access_token"), str) or not isinstance(data.get("expires_in"), int):
        problems.append(f"a token answer has access_token and expires_in (seconds) [{R.REFRESH_TOKENS}]")
    for key in ("refresh_token_expires_in",):
        if key in data and not isinstance(data[key], int):
            problems.append(f"{key} is seconds (an integer) [{R.REFRESH_TOKENS}]")


def _userinfo_answer(x: Exchange, problems: list[str]) -> None:
    data = _answer_object(x, problems, R.USERINFO)
    problems += _unknown(data, R.USERINFO_FIELDS, "the userinfo answer", R.USERINFO)
    if not data.get("sub"):
        problems.append(f"userinfo names the member in sub [{R.USERINFO}]")
