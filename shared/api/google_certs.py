"""Google's ID-token signing certificates, fetched at most as often as Google's own cache lifetime
needs, per instance, one fetch at a time.

Google publishes {kid: PEM} at https://www.googleapis.com/oauth2/v1/certs with `Cache-Control:
max-age` (hours) and adds a new key there well before signing with it
(https://developers.google.com/identity/gsi/web/guides/verify-google-id-token: "use the
Cache-Control header to determine when to retrieve them again"). So:

- Fresh certificates are used as they are; the next fetch is due when max-age (less `Age`) runs out.
- A token naming a kid we have never seen does not fetch again while the certificates are fresh,
  except once per UNKNOWN_KID_REFETCH (a key Google added since our fetch): forged tokens with
  made-up kids cannot make us fetch more than that.
- A failed fetch is not retried for FAILURE_BACKOFF; meanwhile the last certificates we had stay in
  use (up to MAX_STALE past their lifetime: Google's keys overlap by days).
- One fetch in flight per instance: other requests wait for it (bounded) and use its result.

Decision: a token we cannot verify is 401, also when the certificates could not be fetched or its
kid is unknown. No 503 for "never seen this kid": anyone can put any kid in a forged token, so a
503 would hand forgers a way to make clients retry and to probe our fetch state, while a genuine
Google token (checked by IAM in front of the function already) practically never carries a kid
missing from a fresh set. The 401's detail says the certificates were unavailable, so a person can
tell the two apart in the logs.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from dataclasses import dataclass, field

from shared.runtime.logging import log_event

log = logging.getLogger("postgate.api.google_certs")

DEFAULT_MAX_AGE = 300.0  # when the answer says no max-age
MIN_MAX_AGE = 60.0  # a zero or tiny max-age (a proxy's, not Google's) would make every token fetch
UNKNOWN_KID_REFETCH = 300.0
FAILURE_BACKOFF = 30.0
MAX_STALE = 24 * 3600.0
FETCH_TIMEOUT = (3.05, 5.0)
_MAX_AGE = re.compile(r"(?:^|[,\s])max-age\s*=\s*\"?(\d+)", re.IGNORECASE)


class CertsUnavailable(Exception):
    pass


@dataclass
class _State:
    certs: dict[str, str] = field(default_factory=dict)
    fresh_until: float = 0.0
    fetched_at: float | None = None
    last_attempt: float | None = None
    last_failed: bool = False


class GoogleCerts:
    """The certificate set of one URL (thread-safe)."""

    def __init__(self, url: str, *, clock=time.monotonic):
        self.url = url
        self._clock = clock
        self._state = _State()
        self._state_lock = threading.Lock()
        self._fetch_lock = threading.Lock()  # one fetch in flight
        self.fetches = 0

    def for_kid(self, kid: str | None, *, may_fetch: bool = True) -> dict[str, str]:
        """The certificates to verify a token with this kid. CertsUnavailable when there are none
        usable (never fetched, fetch failing, stale past MAX_STALE)."""
        if may_fetch and self._should_fetch(kid):
            acquired = self._fetch_lock.acquire(timeout=sum(FETCH_TIMEOUT) + 1)
            if acquired:
                try:
                    if self._should_fetch(kid):  # another request may have fetched while we waited
                        self._fetch()
                finally:
                    self._fetch_lock.release()
        with self._state_lock:
            state = self._state
            usable = state.certs and self._clock() < state.fresh_until + MAX_STALE
            if not usable:
                raise CertsUnavailable("Google's ID token certificates could not be fetched")
            return dict(state.certs)

    def _should_fetch(self, kid: str | None) -> bool:
        now = self._clock()
        with self._state_lock:
            state = self._state
            if state.last_failed and state.last_attempt is not None and now - state.last_attempt < FAILURE_BACKOFF:
                return False
            if not state.certs or now >= state.fresh_until:
                return True
            return (kid is not None and kid not in state.certs and state.last_attempt is not None
                    and now - state.last_attempt >= UNKNOWN_KID_REFETCH)

    def _fetch(self) -> None:
        import requests

        started = self._clock()
        with self._state_lock:
            self._state.last_attempt = started
        self.fetches += 1
        try:
            answer = requests.get(self.url, timeout=FETCH_TIMEOUT)
            answer.raise_for_status()
            certs = answer.json()
            if not (isinstance(certs, dict) and certs
                    and all(isinstance(k, str) and isinstance(v, str) for k, v in certs.items())):
                raise ValueError("not a {kid: PEM certificate} object")
        except (requests.RequestException, ValueError) as exc:
            with self._state_lock:
                self._state.last_failed = True
            log_event(log, logging.WARNING, "Google certificates could not be fetched", error=type(exc).__name__,
                      retry_in_s=FAILURE_BACKOFF)
            return
        lifetime = _lifetime(answer.headers)
        with self._state_lock:
            self._state = _State(certs=certs, fresh_until=started + lifetime, fetched_at=started,
                                 last_attempt=started, last_failed=False)
        log_event(log, logging.INFO, "Google certificates fetched", keys=len(certs), cache_s=int(lifetime))


def _lifetime(headers) -> float:
    """Seconds the answer may be used: Cache-Control max-age less Age (RFC 9111 section 4.2.3)."""
    match = _MAX_AGE.search(headers.get("Cache-Control", ""))
    if not match:
        return DEFAULT_MAX_AGE
    try:
        age = float(headers.get("Age", "0") or 0)
    except ValueError:
        age = 0.0
    return max(MIN_MAX_AGE, float(match.group(1)) - age)
