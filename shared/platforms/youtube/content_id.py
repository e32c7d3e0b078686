"""A YouTube Content ID API (youtubePartner v1) client over `requests`: the content owners a Google
account acts for, the owner's assets and saved policies, and claims (insert, get, patch the policy,
search by video). docs/platforms.md#youtube-content-id says what each call is for.

Every call but contentOwners.list names the content owner (onBehalfOfContentOwner), and uses the
account's OAuth token, which needs the https://www.googleapis.com/auth/youtubepartner scope. Errors
are Google's body, classified as the Data API's are (shared/platforms/youtube/client.py classify):
401 -> AuthError (refreshed once), 429/5xx/backendError -> TransientError, anything else ->
PermanentError carrying Google's reason (insufficientPermissions, forbidden, notFound, ...). Google
documents no quota units for this API; each call is logged with its method.

A claim's policy is Google's Policy object: a saved policy by id ({"id": ...}) or inline rules
({"rules": [{"action": "monetize" | "track" | "block", "conditions": ...}]}).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

import requests

from shared.errors import PermanentError, TransientError
from shared.platforms.credentials import StaticToken, with_fresh_token
from shared.platforms.youtube.client import classify, google_error
from shared.runtime.logging import log_event

if TYPE_CHECKING:
    from shared.platforms.base import TokenSource

log = logging.getLogger(__name__)
PARTNER_PATH = "/youtube/partner/v1"
PARTNER_SCOPE = "https://www.googleapis.com/auth/youtubepartner"
MAX_PAGES = 200  # a runaway paging loop stops here (200 pages of assets or claims)


@dataclass(frozen=True)
class ContentOwner:
    id: str
    display_name: str


def policy_of(resource: dict | None) -> dict:
    """A claim's policy as compared and shown: {"id": saved policy} or {"rules": [...]} (kind dropped)."""
    policy = (resource or {}).get("policy") or {}
    if policy.get("id"):
        return {"id": str(policy["id"])}
    return {"rules": [dict(rule) for rule in policy.get("rules") or []]}


class ContentIdClient:
    def __init__(self, tokens: str | TokenSource, *, base_url: str, timeout: float = 30.0,
                 session: requests.Session | None = None):
        self._tokens = StaticToken(tokens) if isinstance(tokens, str) else tokens
        self._base = base_url.rstrip("/")
        self._timeout = timeout
        self._http = session or requests.Session()

    def _call(self, method: str, path: str, *, endpoint: str, params: dict, body: dict | None = None,
              missing_ok: bool = False) -> dict | None:
        def once(token: str) -> dict | None:
            headers = {"Authorization": f"Bearer {token}"}
            if body is not None:
                headers["Content-Type"] = "application/json; charset=UTF-8"
            try:
                response = self._http.request(method, f"{self._base}{PARTNER_PATH}{path}", params=params, json=body,
                                              headers=headers, timeout=self._timeout)
            except (requests.ConnectionError, requests.Timeout) as exc:
                raise TransientError(f"youtube {endpoint}: no answer ({type(exc).__name__})") from None
            reason = google_error(response)[0] if not response.ok else "ok"
            log_event(log, logging.INFO, "youtube content id call", endpoint=endpoint,
                      http_status=response.status_code, reason=reason)
            if response.status_code == 404 and missing_ok:
                return None
            if not response.ok:
                raise classify(response, endpoint)
            return response.json() if response.content else {}

        return with_fresh_token(self._tokens, once)

    # -- content owners ------------------------------------------------------------------------
    def my_content_owners(self) -> list[ContentOwner]:
        """contentOwners.list fetchMine=true: the content owners the token's Google account acts for."""
        data = self._call("GET", "/contentOwners", endpoint="contentOwners.list", params={"fetchMine": "true"}) or {}
        return [ContentOwner(str(item["id"]), str(item.get("displayName") or item["id"]))
                for item in data.get("items") or [] if item.get("id")]

    # -- assets and policies -------------------------------------------------------------------
    def asset_page(self, owner: str, *, page_token: str | None = None, query: str | None = None) -> dict:
        """assetSearch.list of the owner's assets (ownershipRestriction=MINE), newest first: one page."""
        params = {"onBehalfOfContentOwner": owner, "ownershipRestriction": "MINE"}
        if page_token:
            params["pageToken"] = page_token
        if query:
            params["q"] = query
        return self._call("GET", "/assetSearch", endpoint="assetSearch.list", params=params) or {}

    def assets(self, owner: str, *, skip: int, limit: int, query: str | None = None) -> tuple[list[dict], int]:
        """Items skip..skip+limit of the owner's assets and the total Google reports. Google pages by
        token only, so the pages before `skip` are read too."""
        items: list[dict] = []
        token, total = None, 0
        for _ in range(MAX_PAGES):
            page = self.asset_page(owner, page_token=token, query=query)
            items.extend(page.get("items") or [])
            total = int((page.get("pageInfo") or {}).get("totalResults", len(items)))
            token = page.get("nextPageToken")
            if not token or len(items) >= skip + limit:
                break
        return items[skip:skip + limit], max(total, len(items))

    def asset(self, owner: str, asset_id: str) -> dict | None:
        """assets.get with the owner's own metadata; None when Google has no such asset for the owner."""
        return self._call("GET", f"/assets/{_segment(asset_id)}", endpoint="assets.get", missing_ok=True,
                          params={"onBehalfOfContentOwner": owner, "fetchMetadata": "mine"})

    def saved_policies(self, owner: str, policy_ids: list[str] | None = None) -> list[dict]:
        params = {"onBehalfOfContentOwner": owner}
        if policy_ids:
            params["id"] = ",".join(policy_ids)
        return list((self._call("GET", "/policies", endpoint="policies.list", params=params) or {}).get("items") or [])

    # -- claims --------------------------------------------------------------------------------
    def insert_claim(self, owner: str, *, video_id: str, asset_id: str, content_type: str, policy: dict) -> dict:
        """claims.insert: the video must be on a channel linked to the owner. A create: an unanswered
        call may have made the claim (settle it with claims_of_video, never by inserting again)."""
        body = {"videoId": video_id, "assetId": asset_id, "contentType": content_type, "policy": policy}
        return self._call("POST", "/claims", endpoint="claims.insert", params={"onBehalfOfContentOwner": owner},
                          body=body) or {}

    def get_claim(self, owner: str, claim_id: str) -> dict | None:
        return self._call("GET", f"/claims/{_segment(claim_id)}", endpoint="claims.get", missing_ok=True,
                          params={"onBehalfOfContentOwner": owner})

    def patch_claim_policy(self, owner: str, claim_id: str, policy: dict) -> dict:
        """claims.patch of the policy alone (the same policy sent twice leaves the same claim)."""
        return self._call("PATCH", f"/claims/{_segment(claim_id)}", endpoint="claims.patch",
                          params={"onBehalfOfContentOwner": owner}, body={"policy": policy}) or {}

    def claims_of_video(self, owner: str, video_id: str) -> list[dict]:
        """claimSearch.list videoId=...: every claim of the owner on the video (all pages)."""
        claims: list[dict] = []
        token = None
        for _ in range(MAX_PAGES):
            params = {"onBehalfOfContentOwner": owner, "videoId": video_id}
            if token:
                params["pageToken"] = token
            page = self._call("GET", "/claimSearch", endpoint="claimSearch.list", params=params) or {}
            claims.extend(page.get("items") or [])
            token = page.get("nextPageToken")
            if not token:
                return claims
        raise PermanentError(f"youtube claimSearch.list: more than {MAX_PAGES} pages of claims on video {video_id}")


def _segment(value: str) -> str:
    """An id as one path segment: YouTube ids are URL-safe; anything else is refused before sending."""
    if not value or any(ch in value for ch in "/?#%"):
        raise ValueError(f"not an id: {value!r}")
    return value
