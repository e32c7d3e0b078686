"""Who is calling: HS256 bearer tokens (key from the secret store) or Google-signed ID tokens.

401: no token, or one that does not verify (bad signature, expired, wrong audience, or Google's
certificates unavailable: see shared/api/google_certs.py for why that is not a 503).
403: a verified caller whose roles do not allow the operation, or whose api_users record is malformed.
Roles: `editor` creates, edits, schedules and cancels; `approver` may do all that and decide.
Identities are e-mail addresses compared lower-case without surrounding spaces (`identity()`), for
roles and rate limits alike; Google's `email_verified` must be the JSON boolean true.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import flask

from shared.api.errors import ApiError
from shared.api.google_certs import CertsUnavailable

ROLES = ("editor", "approver")
# What each role may do; an approver is also an editor.
_IMPLIES = {"approver": {"approver", "editor"}, "editor": {"editor"}}
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


def current_principal() -> Principal:
    """The authenticated caller of this request (shared/api/app.py sets it before the route runs)."""
    return flask.g.principal


GOOGLE_ISSUERS = ("accounts.google.com", "https://accounts.google.com")


def identity(user: str) -> str:
    """One spelling per person: `" Lead@Example.COM "` and `"lead@example.com"` are the same caller."""
    return user.strip().lower()


def roles_from_record(user: str, record: dict | None) -> list[str]:
    """The roles an api_users record grants. No record, or one without `roles`: none (403 "no role").
    A record whose roles are not a list of role names is an operator's mistake: 403 saying so,
    rather than guessing what was meant."""
    if record is None or "roles" not in record:
        return []
    roles = record["roles"]
    if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
        raise ApiError(403, f"the api_users record of {user} is malformed: roles must be a list of role names "
                            f"({', '.join(ROLES)}); an operator has to fix it")
    return roles


def authenticate(authorization: str | None, *, key_loader, audience: str, roles_of, google_certs=None,
                 may_fetch_certs: bool = True) -> Principal:
    """The caller, from an `Authorization: Bearer ...` header. `key_loader()` gives the HS256 key;
    `roles_of(email)` the roles of a Google identity; `google_certs` (a GoogleCerts) Google's
    certificates, fetched only when `may_fetch_certs`."""
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
        return Principal(identity(str(claims["sub"])), frozenset(r for r in roles if r in ROLES))
    if header.get("alg") == "RS256" and google_certs is not None:
        return _google_identity(token, header, audience, roles_of, google_certs, may_fetch_certs)
    raise ApiError(401, f"bearer token algorithm {header.get('alg')!r} is not accepted", field="Authorization",
                   headers=_UNAUTHENTICATED)


def _google_identity(token: str, header: dict, audience: str, roles_of, google_certs, may_fetch: bool) -> Principal:
    """A Google-signed ID token (deployed behind IAM): verified against Google's published certificates
    (signature, expiry, audience, issuer); roles from Firestore api_users/<email>."""
    from google.auth import jwt as google_jwt

    kid = header.get("kid") if isinstance(header.get("kid"), str) else None
    try:
        certs = google_certs.for_kid(kid, may_fetch=may_fetch)
    except CertsUnavailable:
        raise ApiError(401, "ID token could not be verified: Google's certificates are unavailable right now",
                       field="Authorization", headers=_UNAUTHENTICATED) from None
    try:
        claims = google_jwt.decode(token, certs=certs, audience=audience)
    except (ValueError, TypeError, KeyError) as exc:  # google-auth's invalid-token errors (odd input: the others)
        raise ApiError(401, f"ID token refused: {exc}", field="Authorization", headers=_UNAUTHENTICATED) from None
    if claims.get("iss") not in GOOGLE_ISSUERS:
        raise ApiError(401, f"ID token refused: issuer {claims.get('iss')!r} is not Google", field="Authorization",
                       headers=_UNAUTHENTICATED)
    email = claims.get("email")
    if not isinstance(email, str) or not email.strip() or claims.get("email_verified") is not True:
        raise ApiError(401, "ID token has no verified e-mail", field="Authorization", headers=_UNAUTHENTICATED)
    user = identity(email)
    return Principal(user, frozenset(r for r in roles_of(user) if r in ROLES))
