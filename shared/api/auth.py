"""Who is calling: HS256 bearer tokens (key from the secret store) or Google-signed ID tokens.

401: no token, or one that does not verify (bad signature, expired, wrong audience).
403: a verified caller whose roles do not allow the operation.
Roles: `editor` creates, edits, schedules and cancels; `approver` may do all that and decide.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from shared.api.errors import ApiError

ROLES = ("editor", "approver")
# What each role may do; an approver is also an editor.
_IMPLIES = {"approver": {"approver", "editor"}, "editor": {"editor"}}
API_USERS = "api_users"  # Firestore: roles of Google identities, {"roles": [...]}, keyed by e-mail
ISSUER = "postgate"
_UNAUTHENTICATED = {"WWW-Authenticate": 'Bearer realm="postgate"'}


@dataclass(frozen=True)
class Principal:
    user: str
    roles: frozenset[str]

    def may(self, role: str) -> bool:
        return any(role in _IMPLIES.get(r, set()) for r in self.roles)

    def require(self, role: str) -> None:
        if not self.may(role):
            raise ApiError(403, f"{self.user} does not have the {role} role this needs")


def issue_api_token(key: str, user: str, roles: list[str], *, audience: str = "postgate-api",
                    ttl_seconds: int = 12 * 3600) -> str:
    """An HS256 bearer token for the API (local stack, CLI, small teams)."""
    import jwt

    unknown = set(roles) - set(ROLES)
    if unknown:
        raise ValueError(f"unknown roles {sorted(unknown)}; roles are {ROLES}")
    now = int(time.time())
    return jwt.encode({"sub": user, "roles": list(roles), "aud": audience, "iss": ISSUER, "iat": now,
                       "exp": now + ttl_seconds}, key, algorithm="HS256")


GOOGLE_ISSUERS = ("accounts.google.com", "https://accounts.google.com")


def authenticate(authorization: str | None, *, key_loader, audience: str, roles_of,
                 google_certs_url: str = "https://www.googleapis.com/oauth2/v1/certs") -> Principal:
    """The caller, from an `Authorization: Bearer ...` header. `key_loader()` gives the HS256 key;
    `roles_of(email)` the roles of a Google identity."""
    import jwt

    if not authorization or not authorization.lower().startswith("bearer "):
        raise ApiError(401, "missing bearer token (Authorization: Bearer <token>)", field="Authorization",
                       headers=_UNAUTHENTICATED)
    token = authorization[7:].strip()
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise ApiError(401, "bearer token is not a JWT", field="Authorization", headers=_UNAUTHENTICATED) from None
    if header.get("alg") == "HS256":
        try:
            claims = jwt.decode(token, key_loader(), algorithms=["HS256"], audience=audience, issuer=ISSUER,
                                options={"require": ["exp", "sub", "aud"]})
        except jwt.PyJWTError as exc:
            raise ApiError(401, f"bearer token refused: {exc}", field="Authorization", headers=_UNAUTHENTICATED) from None
        roles = claims.get("roles") or []
        if not isinstance(roles, list):
            raise ApiError(401, "bearer token refused: roles must be a list", field="Authorization",
                           headers=_UNAUTHENTICATED)
        return Principal(str(claims["sub"]), frozenset(r for r in roles if r in ROLES))
    if header.get("alg") == "RS256":
        return _google_identity(token, audience, roles_of, google_certs_url)
    raise ApiError(401, f"bearer token algorithm {header.get('alg')!r} is not accepted", field="Authorization",
                   headers=_UNAUTHENTICATED)


def _google_identity(token: str, audience: str, roles_of, certs_url: str) -> Principal:
    """A Google-signed ID token (deployed behind IAM): verified against Google's published certificates
    (signature, expiry, audience, issuer); roles from Firestore api_users/<email>."""
    from google.auth import exceptions as google_exceptions
    from google.auth.transport import requests as google_requests
    from google.oauth2 import id_token

    try:
        claims = id_token.verify_token(token, google_requests.Request(), audience=audience, certs_url=certs_url)
    except google_exceptions.TransportError:
        raise ApiError(503, "Google's ID token certificates could not be fetched; try again",
                       headers={"Retry-After": "5"}) from None
    except ValueError as exc:  # google-auth's invalid-token errors are ValueErrors
        raise ApiError(401, f"ID token refused: {exc}", field="Authorization", headers=_UNAUTHENTICATED) from None
    if claims.get("iss") not in GOOGLE_ISSUERS:
        raise ApiError(401, f"ID token refused: issuer {claims.get('iss')!r} is not Google", field="Authorization",
                       headers=_UNAUTHENTICATED)
    email = claims.get("email")
    if not email or not claims.get("email_verified"):
        raise ApiError(401, "ID token has no verified e-mail", field="Authorization", headers=_UNAUTHENTICATED)
    return Principal(email, frozenset(r for r in roles_of(email) if r in ROLES))
