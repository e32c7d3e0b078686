"""Media named by URL (the seed's `media_urls`), fetched once into the media bucket.

An approval binds every byte that is published (docs/design.md, invariant 1), and a URL can serve
other bytes tomorrow: so each URL is fetched once, when the post is created, and the post carries the
stored object (its generation and checksum) like any uploaded file. What is fetched, and how:

- https only; the host's every address (after DNS resolution) must be a public one: private,
  loopback, link-local, multicast, reserved and unspecified addresses are refused, and the connection
  goes to the address that was checked (no second lookup an attacker could answer differently, SSRF);
- at most MAX_REDIRECTS redirects, each judged the same way;
- at most `max_bytes` (Content-Length announced over it, or more bytes arriving: refused) within
  `timeout_seconds` in all;
- the answer's Content-Type must be image/* or video/*; it becomes the object's type and the media kind.

Every refusal is a ValidationError naming `media_urls[i]`. `overrides` (POSTGATE_MEDIA_FETCH_OVERRIDES,
local stacks and tests only) maps a URL prefix to a local base URL fetched instead, without the address
checks: that is how a test serves the seed's https://example.com/image.jpg.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import urllib3

from shared.errors import ValidationError
from shared.model.content import MediaRef
from shared.runtime.logging import log_event
from shared.stores.media import upload_name
from shared.stores.protocols import MediaStore

log = logging.getLogger(__name__)

MAX_REDIRECTS = 3
_CHUNK = 64 * 1024
Resolver = Callable[[str, int], list[str]]


@dataclass(frozen=True)
class FetchRules:
    max_bytes: int
    timeout_seconds: float
    overrides: Mapping[str, str]


def resolve_host(host: str, port: int) -> list[str]:
    """Every address the host resolves to."""
    return sorted({str(info[4][0]) for info in socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)})


def public_address(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not (ip.is_multicast or ip.is_reserved or ip.is_loopback or ip.is_link_local
                                 or ip.is_private or ip.is_unspecified)


def _shown(url: str) -> str:
    """The URL without its query or fragment (which may carry a token), for messages and logs."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


def import_media(urls: list[str], *, media_store: MediaStore, media_bucket: str, rules: FetchRules,
                 resolver: Resolver = resolve_host) -> list[MediaRef]:
    """Each URL fetched and stored under a fresh name in the media bucket, in order; a ValidationError
    naming `media_urls[i]` for the first that can't be."""
    stored = []
    for index, url in enumerate(urls):
        field = f"media_urls[{index}]"
        data, content_type = fetch(url, field=field, rules=rules, resolver=resolver)
        kind = content_type.split("/", 1)[0]
        name = upload_name(urlsplit(url).path.rsplit("/", 1)[-1] or "media")
        stored.append(media_store.put(media_bucket, name, data, content_type, kind))
        log_event(log, logging.INFO, "media fetched into the media bucket", url=_shown(url), bytes=len(data),
                  content_type=content_type, object=name)
    return stored


def fetch(url: str, *, field: str, rules: FetchRules, resolver: Resolver = resolve_host) -> tuple[bytes, str]:
    """(bytes, content type) of what `url` serves, under the module's rules."""
    deadline = time.monotonic() + rules.timeout_seconds
    current = url
    for _ in range(MAX_REDIRECTS + 1):
        pool, path = _connection(current, field, rules, resolver)
        left = deadline - time.monotonic()
        if left <= 0:
            raise ValidationError(f"{_shown(url)} did not answer within {rules.timeout_seconds:g} s", field=field,
                                  limit=f"{rules.timeout_seconds:g} s")
        try:
            response = pool.urlopen("GET", path, redirect=False, retries=False, preload_content=False,
                                    timeout=urllib3.Timeout(connect=left, read=left),
                                    headers={"Accept": "image/*, video/*"})
        except urllib3.exceptions.HTTPError as exc:
            raise ValidationError(f"{_shown(current)} could not be fetched ({type(exc).__name__})",
                                  field=field) from None
        try:
            if response.status in (301, 302, 303, 307, 308) and response.headers.get("Location"):
                current = urljoin(current, response.headers["Location"])
                continue
            if response.status != 200:
                raise ValidationError(f"{_shown(current)} answered HTTP {response.status}", field=field,
                                      limit="HTTP 200")
            content_type = (response.headers.get("Content-Type") or "").split(";", 1)[0].strip().lower()
            if not content_type.startswith(("image/", "video/")):
                raise ValidationError(f"{_shown(current)} is {content_type or 'of no declared type'}, not an image "
                                      "or a video", field=field, limit="Content-Type image/* or video/*")
            try:
                return _read(response, field, current, rules, deadline), content_type
            except urllib3.exceptions.HTTPError as exc:
                raise ValidationError(f"{_shown(current)} broke off ({type(exc).__name__})", field=field) from None
        finally:
            response.release_conn()
    raise ValidationError(f"{_shown(url)} redirects more than {MAX_REDIRECTS} times", field=field,
                          limit=f"{MAX_REDIRECTS} redirects")


def _connection(url: str, field: str, rules: FetchRules, resolver: Resolver):
    """A connection pool to the checked address of `url`'s host (or to its local override), and the path."""
    for prefix, local in rules.overrides.items():
        base = prefix.rstrip("/")
        if url == base or url.startswith(base + "/"):  # a whole host or path, not https://example.com.evil.org
            target = urlsplit(local.rstrip("/") + url[len(base):])
            pool = urllib3.connection_from_url(f"{target.scheme}://{target.netloc}")
            return pool, (target.path or "/") + (f"?{target.query}" if target.query else "")
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname:
        raise ValidationError(f"{_shown(url)} is not an https URL", field=field, limit="https://...")
    if parts.username or parts.password:
        raise ValidationError("a media URL may not carry a user name or password", field=field)
    port = parts.port or 443
    try:
        addresses = resolver(parts.hostname, port)
    except (OSError, UnicodeError):
        raise ValidationError(f"{parts.hostname} does not resolve", field=field) from None
    refused = [a for a in addresses if not public_address(a)]
    if not addresses or refused:
        raise ValidationError(f"{parts.hostname} resolves to an address that is not public; media must come from "
                              "the internet", field=field, limit="a public address")
    pool = urllib3.HTTPSConnectionPool(addresses[0], port, server_hostname=parts.hostname,
                                       assert_hostname=parts.hostname, maxsize=1)
    pool.headers = {"Host": parts.netloc.rsplit("@", 1)[-1]}
    return pool, (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def _read(response, field: str, url: str, rules: FetchRules, deadline: float) -> bytes:
    declared = response.headers.get("Content-Length")
    if declared and declared.isdigit() and int(declared) > rules.max_bytes:
        raise ValidationError(f"{_shown(url)} is {int(declared)} bytes, over the limit", field=field,
                              limit=f"{rules.max_bytes} bytes")
    parts: list[bytes] = []
    size = 0
    for chunk in response.stream(_CHUNK):
        size += len(chunk)
        if size > rules.max_bytes:
            raise ValidationError(f"{_shown(url)} is over {rules.max_bytes} bytes", field=field,
                                  limit=f"{rules.max_bytes} bytes")
        if time.monotonic() > deadline:
            raise ValidationError(f"{_shown(url)} did not arrive within {rules.timeout_seconds:g} s", field=field,
                                  limit=f"{rules.timeout_seconds:g} s")
        parts.append(chunk)
    if not size:
        raise ValidationError(f"{_shown(url)} is empty", field=field)
    return b"".join(parts)
