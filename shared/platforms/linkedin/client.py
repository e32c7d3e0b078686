"""A real LinkedIn client for the versioned /rest API. Base URL, OAuth URL and version come from
config so tests point it at the sandbox.

Every /rest call sends the Bearer token, `LinkedIn-Version: YYYYMM` and
`X-Restli-Protocol-Version: 2.0.0` (docs/platforms.md#linkedin). Errors arrive as
{status, serviceErrorCode, code, message} (or, for duplicates, with errorDetails.inputErrors)
and are classified here: 401 AuthError, 426 PermanentError naming the version setting,
429 and 5xx TransientError (LinkedIn sends no Retry-After), other 4xx PermanentError.

POST /rest/posts has no idempotency key, so on it every answer that does not prove nothing was
created is AmbiguousError: no answer after the request was sent, and a 5xx. Its 422
DUPLICATE_POST names the existing post ("Content is a duplicate of urn:li:share:…"): that is
DuplicatePost, carrying the URN. A 429 is a throttle that refused the call, so it stays transient.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import quote

import requests

from shared.errors import AmbiguousError, AuthError, PermanentError, TransientError
from shared.platforms.credentials import StaticToken, with_fresh_token
from shared.platforms.token_endpoint import post_token_form
from shared.runtime.logging import log_event

if TYPE_CHECKING:
    from shared.platforms.base import TokenSource

log = logging.getLogger(__name__)
RESTLI_PROTOCOL = "2.0.0"
_DUPLICATE_OF = re.compile(r"duplicate of (urn:li:(?:share|ugcPost):[0-9]+)")


class RateLimited(TransientError):
    """429: a per-application or per-member daily limit; LinkedIn resets them at midnight UTC and
    sends no Retry-After or rate-limit headers (docs/platforms.md#linkedin-limits-and-errors)."""


class DuplicatePost(AmbiguousError):
    """422 DUPLICATE_POST on create. `post_urn` is the existing post LinkedIn names (None if the
    message named none)."""

    def __init__(self, message: str, post_urn: str | None):
        super().__init__(message)
        self.post_urn = post_urn


@dataclass(frozen=True)
class UploadPart:
    upload_url: str
    first_byte: int
    last_byte: int


@dataclass(frozen=True)
class VideoUpload:
    video_urn: str
    upload_token: str
    parts: list[UploadPart]


@dataclass(frozen=True)
class ImageUpload:
    image_urn: str
    upload_url: str


def _sent_before_failing(exc: requests.RequestException) -> bool:
    """True when the request may have reached LinkedIn (so a create may have happened)."""
    if isinstance(exc, requests.ConnectTimeout):
        return False
    if isinstance(exc, requests.ConnectionError):
        reason = getattr(exc.args[0], "reason", None) if exc.args else None
        return type(reason).__name__ != "NewConnectionError"
    return isinstance(exc, requests.Timeout)


class LinkedInClient:
    def __init__(self, tokens: str | TokenSource, *, base_url: str, version: str, timeout: float = 30.0,
                 session: requests.Session | None = None):
        self._tokens = StaticToken(tokens) if isinstance(tokens, str) else tokens
        self._base = base_url.rstrip("/")
        self._version = version
        self._timeout = timeout
        self._http = session or requests.Session()

    # -- plumbing --------------------------------------------------------------------------
    def _headers(self, token: str, *, write: bool) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {token}", "LinkedIn-Version": self._version,
                   "X-Restli-Protocol-Version": RESTLI_PROTOCOL}
        if write:
            headers["Content-Type"] = "application/json"
        return headers

    def _call(self, method: str, path: str, *, endpoint: str, body: dict | None = None, params: dict | None = None,
              creates: bool = False, headers: dict | None = None) -> requests.Response:
        # A 401 refreshes the token once and re-sends: a rejected request created nothing.
        return with_fresh_token(self._tokens, lambda token: self._call_once(method, path, endpoint, body, params,
                                                                             creates, token, headers or {}))

    def _call_once(self, method: str, path: str, endpoint: str, body, params, creates: bool, token: str, extra: dict):
        try:
            response = self._http.request(method, f"{self._base}{path}", params=params, json=body, timeout=self._timeout,
                                          headers={**self._headers(token, write=body is not None), **extra})
        except requests.RequestException as exc:
            if creates and _sent_before_failing(exc):
                # No idempotency key on POST /rest/posts: the post may exist
                # (docs/platforms.md#linkedin-unknown-outcomes).
                raise AmbiguousError(f"linkedin {endpoint}: no answer after the request was sent "
                                     f"({type(exc).__name__}); the post may exist, check before posting again") from None
            raise TransientError(f"linkedin {endpoint}: {type(exc).__name__}") from None
        self._check(response, endpoint, creates)
        return response

    def _check(self, response: requests.Response, endpoint: str, creates: bool = False) -> None:
        status = response.status_code
        log_event(log, logging.INFO, "linkedin call", endpoint=endpoint, http_status=status)
        if status < 400:
            return
        try:
            payload = response.json()
        except ValueError:
            payload = {}
        payload = payload if isinstance(payload, dict) else {}
        input_errors = (payload.get("errorDetails") or {}).get("inputErrors") or []
        code = (payload.get("code") or (input_errors[0].get("code") if input_errors else None)
                or (str(payload["serviceErrorCode"]) if payload.get("serviceErrorCode") is not None else None)
                or f"HTTP_{status}")
        reason = payload.get("message") or response.reason or ""
        message = f"linkedin {endpoint}: HTTP {status} {code}: {reason}"
        log_event(log, logging.WARNING, "linkedin error", endpoint=endpoint, http_status=status, error_code=code,
                  service_error_code=payload.get("serviceErrorCode"))
        if status == 401:
            raise AuthError(message, platform_code=code)
        if status == 426:
            raise PermanentError(f"{message}. LinkedIn-Version {self._version} is sunset: set POSTGATE_LINKEDIN_VERSION "
                                 f"to a supported YYYYMM version", platform_code=code)
        if creates and code == "DUPLICATE_POST":
            named = _DUPLICATE_OF.search(str(payload.get("message") or ""))
            raise DuplicatePost(message, named.group(1) if named else None)
        if creates and status >= 500:
            raise AmbiguousError(f"{message}; the post may exist (no idempotency key), look it up before posting again")
        if status == 429:  # no Retry-After from LinkedIn: the caller's backoff decides the wait
            raise RateLimited(message, platform_code=code)
        if status >= 500:
            raise TransientError(message, platform_code=code)
        raise PermanentError(message, platform_code=code)

    @staticmethod
    def _json(response: requests.Response, endpoint: str) -> dict:
        try:
            data = response.json()
        except ValueError:
            raise TransientError(f"linkedin {endpoint}: answer was not JSON") from None
        if not isinstance(data, dict):
            raise TransientError(f"linkedin {endpoint}: unexpected answer")
        return data

    # -- identity --------------------------------------------------------------------------
    def userinfo(self) -> dict:
        """GET /v2/userinfo (OpenID Connect, scopes openid profile; unversioned, so no LinkedIn-Version
        header): the member the token acts for, {sub, name, ...}."""
        def once(token: str) -> dict:
            try:
                response = self._http.get(f"{self._base}/v2/userinfo", timeout=self._timeout,
                                          headers={"Authorization": f"Bearer {token}"})
            except requests.RequestException as exc:
                raise TransientError(f"linkedin userinfo: {type(exc).__name__}") from None
            self._check(response, "userinfo")
            return self._json(response, "userinfo")

        data = with_fresh_token(self._tokens, once)
        if not data.get("sub"):
            raise TransientError("linkedin userinfo answered without a member id (sub)")
        return data

    # -- images ----------------------------------------------------------------------------
    def initialize_image_upload(self, owner: str) -> ImageUpload:
        response = self._call("POST", "/rest/images", endpoint="images_init", params={"action": "initializeUpload"},
                              body={"initializeUploadRequest": {"owner": owner}})
        value = self._json(response, "images_init").get("value") or {}
        if not value.get("image") or not value.get("uploadUrl"):
            raise TransientError("linkedin images_init: answer without image URN or uploadUrl")
        return ImageUpload(image_urn=value["image"], upload_url=value["uploadUrl"])

    def upload_image(self, upload_url: str, data: bytes) -> None:
        def put(token: str) -> None:
            try:
                response = self._http.put(upload_url, data=data, timeout=self._timeout, headers={
                    "Authorization": f"Bearer {token}", "Content-Type": "application/octet-stream"})
            except requests.RequestException as exc:
                raise TransientError(f"linkedin image upload: {type(exc).__name__}") from None
            self._check(response, "image_upload")

        with_fresh_token(self._tokens, put)

    def get_image(self, image_urn: str) -> dict:
        response = self._call("GET", f"/rest/images/{quote(image_urn, safe='')}", endpoint="images_get")
        return self._json(response, "images_get")

    # -- videos ----------------------------------------------------------------------------
    def initialize_video_upload(self, owner: str, size: int) -> VideoUpload:
        body = {"initializeUploadRequest": {"owner": owner, "fileSizeBytes": size, "uploadCaptions": False,
                                            "uploadThumbnail": False}}
        response = self._call("POST", "/rest/videos", endpoint="videos_init", params={"action": "initializeUpload"},
                              body=body)
        value = self._json(response, "videos_init").get("value") or {}
        instructions = value.get("uploadInstructions") or []
        if not value.get("video") or not instructions:
            raise TransientError("linkedin videos_init: answer without video URN or uploadInstructions")
        parts = [UploadPart(i["uploadUrl"], int(i["firstByte"]), int(i["lastByte"])) for i in instructions]
        covered = sum(p.last_byte - p.first_byte + 1 for p in parts)
        if covered != size or parts[0].first_byte != 0:
            raise PermanentError(f"linkedin videos_init: upload instructions cover {covered} of {size} bytes")
        return VideoUpload(video_urn=value["video"], upload_token=value.get("uploadToken", ""), parts=parts)

    def upload_video_part(self, part: UploadPart, data: bytes) -> str:
        """PUT one byte range to its upload URL (used whole, as given); returns the part's ETag."""
        if len(data) != part.last_byte - part.first_byte + 1:
            raise PermanentError(f"linkedin video upload: part {part.first_byte}-{part.last_byte} got {len(data)} bytes")
        try:
            response = self._http.put(part.upload_url, data=data, timeout=self._timeout,
                                      headers={"Content-Type": "application/octet-stream"})
        except requests.RequestException as exc:
            raise TransientError(f"linkedin video upload: part {part.first_byte}-{part.last_byte} "
                                 f"not acknowledged ({type(exc).__name__})") from None
        self._check(response, "video_upload")
        etag = response.headers.get("ETag")
        if not etag:
            raise TransientError(f"linkedin video upload: no ETag for part {part.first_byte}-{part.last_byte}")
        return etag

    def finalize_video_upload(self, upload: VideoUpload, etags: list[str]) -> None:
        body = {"finalizeUploadRequest": {"video": upload.video_urn, "uploadToken": upload.upload_token,
                                          "uploadedPartIds": etags}}
        self._call("POST", "/rest/videos", endpoint="videos_finalize", params={"action": "finalizeUpload"}, body=body)

    def get_video(self, video_urn: str) -> dict:
        response = self._call("GET", f"/rest/videos/{quote(video_urn, safe='')}", endpoint="videos_get")
        return self._json(response, "videos_get")

    # -- posts -----------------------------------------------------------------------------
    def create_post(self, post: dict) -> str:
        """POST /rest/posts -> 201 with the post URN in the x-restli-id header (the body is empty)."""
        response = self._call("POST", "/rest/posts", endpoint="posts_create", body=post, creates=True)
        urn = response.headers.get("x-restli-id")
        if not urn:
            raise AmbiguousError(f"linkedin posts_create: HTTP {response.status_code} without an x-restli-id header; "
                                 "the post may exist")
        return urn

    def find_posts_by_author(self, author: str, *, start: int = 0, count: int = 50) -> dict:
        """GET /rest/posts?q=author: the author's posts, newest created first
        ({paging: {start, count, total, links}, elements: [post…]}). Reading a member's posts needs
        r_member_social (a private permission): without it LinkedIn answers 403."""
        response = self._call("GET", "/rest/posts", endpoint="posts_find", headers={"X-RestLi-Method": "FINDER"},
                              params={"q": "author", "author": author, "sortBy": "CREATED", "start": start,
                                      "count": count})
        return self._json(response, "posts_find")

    def share_statistics(self, organization: str, post_urns: list[str]) -> list[dict]:
        """Lifetime organic statistics of an organization's posts: GET
        /rest/organizationalEntityShareStatistics?q=organizationalEntity&organizationalEntity=<org>
        &shares=List(...)&ugcPosts=List(...) (no timeIntervals = lifetime; rolling 12 months), one
        call for both kinds, URNs URL-encoded inside Rest.li 2.0's List(...) [learn.microsoft.com/
        linkedin/marketing/community-management/organizations/share-statistics]. Returns `elements`,
        each {share | ugcPost, organizationalEntity, totalShareStatistics{impressionCount,
        uniqueImpressionsCount, clickCount, likeCount, commentCount, shareCount, engagement}}. Needs
        rw_organization_admin (an ADMINISTRATOR of the organization)."""
        def listed(kind: str) -> str:
            urns = [u for u in post_urns if u.startswith(f"urn:li:{kind}:")]
            return f"&{kind}s=List({','.join(quote(u, safe='') for u in urns)})" if urns else ""

        query = (f"q=organizationalEntity&organizationalEntity={quote(organization, safe='')}"
                 f"{listed('share')}{listed('ugcPost')}")
        # The query is built by hand: Rest.li's List(...) must keep its parentheses and commas unescaped.
        response = self._call("GET", f"/rest/organizationalEntityShareStatistics?{query}", endpoint="share_statistics")
        return list(self._json(response, "share_statistics").get("elements") or [])

    def get_post(self, post_urn: str) -> dict | None:
        """The post, or None when LinkedIn says it does not exist (404)."""
        try:
            response = self._call("GET", f"/rest/posts/{quote(post_urn, safe='')}", endpoint="posts_get")
        except PermanentError as exc:
            if exc.platform_code in ("NOT_FOUND", "HTTP_404") and not isinstance(exc, AuthError):
                return None
            raise
        return self._json(response, "posts_get")


def refresh_member_tokens(oauth_url: str, tokens: dict, *, timeout: float = 30.0,
                          http: requests.Session | None = None) -> dict:
    """POST the OAuth endpoint (grant_type=refresh_token). The refresh token's lifetime counts from the
    first authorization and never slides, so its absolute expiry is kept with the tokens
    (docs/platforms.md#linkedin-tokens)."""
    http = http or requests.Session()
    form = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"],
            "client_id": tokens.get("client_id", ""), "client_secret": tokens.get("client_secret", "")}
    response, payload = post_token_form(http, oauth_url, form, platform="linkedin", step="token refresh",
                                        timeout=timeout, no_answer=requests.RequestException)
    if response.ok and payload.get("access_token"):
        fresh = {"access_token": payload["access_token"], "refresh_token": payload.get("refresh_token"),
                 "expires_in": payload.get("expires_in")}
        if payload.get("refresh_token_expires_in") is not None:
            fresh["refresh_token_expires_at"] = int(time.time() + float(payload["refresh_token_expires_in"]))
        return fresh
    code = payload.get("error")
    if response.status_code >= 500 or response.status_code == 429:
        raise TransientError(f"linkedin token refresh: HTTP {response.status_code}")
    raise AuthError(f"linkedin token refresh refused ({code or response.status_code}: "
                    f"{payload.get('error_description', '')}); the member must reconnect the account",
                    platform_code=str(code or response.status_code))


def exchange_authorization_code(oauth_url: str, *, client_id: str, client_secret: str, code: str, redirect_uri: str,
                                timeout: float = 30.0, http: requests.Session | None = None) -> dict:
    """POST /oauth/v2/accessToken with grant_type=authorization_code, the client credentials in the
    form and the same redirect_uri as the authorization request."""
    http = http or requests.Session()
    form = {"grant_type": "authorization_code", "code": code, "client_id": client_id, "client_secret": client_secret,
            "redirect_uri": redirect_uri}
    response, payload = post_token_form(http, oauth_url, form, platform="linkedin", step="code exchange",
                                        timeout=timeout, no_answer=requests.RequestException)
    if response.ok and payload.get("access_token"):
        tokens = {k: payload.get(k) for k in ("access_token", "refresh_token", "expires_in", "scope")}
        if payload.get("refresh_token_expires_in") is not None:  # counted from this authorization, never slides
            tokens["refresh_token_expires_at"] = int(time.time() + float(payload["refresh_token_expires_in"]))
        return tokens
    if response.status_code >= 500 or response.status_code == 429:
        raise TransientError(f"linkedin code exchange: HTTP {response.status_code}")
    code_name = payload.get("error")
    raise PermanentError(f"linkedin refused the authorization code ({code_name or response.status_code}: "
                         f"{payload.get('error_description', '')})", platform_code=str(code_name or response.status_code))
