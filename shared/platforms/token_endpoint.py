"""The part of an OAuth token-endpoint call that every platform shares: send the request, turn "no
answer" into a TransientError naming the platform and the step, and read the JSON body defensively.

What the answer means (which error codes ask for a reconnect, which are worth retrying, which
fields make up the tokens) is each platform's contract and stays in its client. Nothing here logs
the form, the headers or the payload: they carry client secrets and tokens.
"""

from __future__ import annotations

import requests

from shared.errors import TransientError

FORM_HEADERS = {"Content-Type": "application/x-www-form-urlencoded"}
# Failures that mean the endpoint never answered. Some clients also count every other
# requests.RequestException (a malformed URL, too many redirects) as no answer: they pass it.
NO_ANSWER: tuple[type[Exception], ...] = (requests.ConnectionError, requests.Timeout)


def call_token_endpoint(http: requests.Session, method: str, url: str, *, platform: str, step: str, timeout: float,
                        no_answer: type[Exception] | tuple[type[Exception], ...] = NO_ANSWER,
                        **kwargs) -> tuple[requests.Response, dict]:
    """(response, payload): `payload` is the JSON object of the answer, or {} when the body is not
    one. No answer raises TransientError("<platform> <step>: no answer")."""
    try:
        response = http.request(method, url, timeout=timeout, **kwargs)
    except no_answer:
        raise TransientError(f"{platform} {step}: no answer") from None
    try:
        payload = response.json()
    except ValueError:
        payload = {}
    return response, payload if isinstance(payload, dict) else {}


def post_token_form(http: requests.Session, url: str, form: dict, *, platform: str, step: str, timeout: float,
                    auth: tuple[str, str] | None = None, headers: dict | None = None,
                    no_answer: type[Exception] | tuple[type[Exception], ...] = NO_ANSWER
                    ) -> tuple[requests.Response, dict]:
    """POST `form` url-encoded (with HTTP Basic `auth` when given); see call_token_endpoint."""
    return call_token_endpoint(http, "POST", url, platform=platform, step=step, timeout=timeout, no_answer=no_answer,
                               data=form, auth=auth, headers={**FORM_HEADERS, **(headers or {})})

