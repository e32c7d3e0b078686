"""Approval link tokens (invariant 5).

HMAC-SHA256 (itsdangerous, constant-time compare) over content id + content hash + action +
expiry + token id + recipient. Expiry is checked here; single use is checked against Firestore
at decision time, because only a recorded use can be single.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from itsdangerous import BadData, BadSignature, URLSafeSerializer
from itsdangerous.encoding import base64_decode, base64_encode

from shared.approval.refusals import TokenRefused

Action = Literal["approve", "reject"]
ACTIONS: tuple[Action, ...] = ("approve", "reject")
_SALT = "postgate.approval.v1"
API_TOKEN_PREFIX = "api:"  # token id of a decision made through the content API


@dataclass(frozen=True)
class LinkClaims:
    content_id: str
    content_hash: str
    action: Action
    expires_at: datetime
    token_id: str
    recipient: str

    @property
    def via_api(self) -> bool:
        """Claims made for an API caller's decision, not read from a signed link."""
        return self.token_id.startswith(API_TOKEN_PREFIX)


def _serializer(key: str) -> URLSafeSerializer:
    return URLSafeSerializer(key, salt=_SALT, signer_kwargs={"digest_method": hashlib.sha256})


def issue_token(key: str, *, content_id: str, content_hash: str, action: Action, expires_at: datetime,
                recipient: str, token_id: str | None = None) -> tuple[str, LinkClaims]:
    claims = LinkClaims(content_id, content_hash, action, expires_at.astimezone(UTC),
                        token_id or uuid.uuid4().hex, recipient)
    token = _serializer(key).dumps({
        "c": claims.content_id, "h": claims.content_hash, "a": claims.action,
        "e": int(claims.expires_at.timestamp()), "j": claims.token_id, "r": claims.recipient,
    })
    return token, claims


def verify_token(key: str, token: str, *, now: datetime, action: str | None = None) -> LinkClaims:
    """Signature, shape, expiry and (if given) the action the request claims to perform."""
    try:
        if not _is_canonical(token):
            raise BadSignature("non-canonical encoding")
        data = _serializer(key).loads(token)
        claims = LinkClaims(
            content_id=str(data["c"]), content_hash=str(data["h"]), action=data["a"],
            expires_at=datetime.fromtimestamp(int(data["e"]), UTC), token_id=str(data["j"]),
            recipient=str(data["r"]),
        )
    except (BadData, KeyError, TypeError, ValueError):
        raise TokenRefused("invalid", "This approval link is not valid. It may have been altered or truncated.") from None
    if claims.action not in ACTIONS:
        raise TokenRefused("invalid", "This approval link is not valid.")
    if action is not None and action != claims.action:
        raise TokenRefused("wrong_action", f"This link can only {claims.action}, not {action}.")
    if now >= claims.expires_at:
        raise TokenRefused("expired", f"This link expired at {claims.expires_at:%Y-%m-%d %H:%M} UTC. Ask for a new one.")
    return claims


def _is_canonical(token: str) -> bool:
    """Exactly the string issue_token would have made. Unpadded base64 leaves spare low bits in its
    last character, so several strings decode to the same bytes; only the one we issued counts."""
    if not token.isascii() or token.count(".") not in (1, 2):
        return False
    payload, _, signature = token.lstrip(".").rpartition(".")
    try:
        return all(part and base64_encode(base64_decode(part)).decode() == part for part in (payload, signature))
    except BadData:
        return False
