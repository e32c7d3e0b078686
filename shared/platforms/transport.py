"""What a failed HTTP request proves about whether it reached the platform.

A create call with no idempotency key may only be sent again when the request provably never left:
no connection was made (refused, DNS, connect timeout). Any other failure (a read timeout, a
connection dropped after the request was written) may have reached the platform, and the post may
exist: that is an unknown outcome (docs/design.md, exactly-once settling).
"""

from __future__ import annotations

import requests
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError


def never_sent(exc: requests.RequestException) -> bool:
    """True when the request provably never reached the platform (no connection was made)."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    if not isinstance(exc, requests.ConnectionError):
        return False
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(reason, (NewConnectionError, ConnectTimeoutError))
