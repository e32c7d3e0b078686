"""The stores as their callers use them: the secret store and the media store as `Protocol`s, so a
signature says what it needs and a test or the local stack can hand in another implementation.

The implementations: `shared.stores.secrets` (Secret Manager, a file, the environment) and
`shared.stores.media.CloudStorageMedia` (Cloud Storage). The Firestore repository is one class,
`shared.stores.posts.Repository`, typed as itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from shared.model.content import MediaRef
from shared.stores.media import SignedUpload


class SecretStore(Protocol):
    def access(self, name: str) -> str:
        """The latest version's value."""
        ...

    def add_version(self, name: str, value: str) -> None:
        """Store a new version (e.g. a rotated refresh token); later reads return it."""
        ...


class MediaStore(Protocol):
    """Media objects by generation: what drafts record, approval pins and publishers stream."""

    def describe(self, uri: str, kind: str, field: str = "video") -> MediaRef:
        """The object's live generation; ValidationError(field=...) when it does not exist."""
        ...

    def put(self, bucket: str, name: str, data: bytes, content_type: str, kind: str) -> MediaRef:
        ...

    def current(self, media: MediaRef) -> MediaRef | None:
        """What the object's name holds now (None if nothing)."""
        ...

    def verify(self, media: list[MediaRef]) -> None:
        """Raise MediaChanged unless every object is still the approved generation with its checksum."""
        ...

    def read_range(self, media: MediaRef, first: int, last: int) -> bytes:
        """Bytes first..last inclusive of the approved generation only."""
        ...

    def iter_ranges(self, media: MediaRef, ranges: list[tuple[int, int]]) -> Iterator[bytes]:
        ...

    def signed_url(self, media: MediaRef, *, ttl_seconds: int, endpoint: str | None = None,
                   key_file: str | None = None) -> str:
        """A V4 signed GET URL of the approved generation."""
        ...

    def signed_upload(self, bucket: str, *, filename: str, content_type: str, size: int, ttl_seconds: int,
                      endpoint: str | None = None, key_file: str | None = None) -> SignedUpload:
        """A V4 signed PUT URL a browser uploads one file with, to a fresh object in `bucket`."""
        ...
