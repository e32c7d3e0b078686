"""Sample media for the demo and tests: bytes with the right headers, not real pictures."""

from __future__ import annotations

import struct


def jpeg_bytes(width: int = 1080, height: int = 1080) -> bytes:
    """A minimal baseline JPEG (SOI, JFIF APP0, SOF0 with the given size, EOI): enough for sandboxes
    that check the type and aspect ratio without decoding pixels."""
    sof0 = b"\xff\xc0" + struct.pack(">HBHHB", 17, 8, height, width, 3) + b"\x01\x22\x00\x02\x11\x01\x03\x11\x01"
    app0 = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    return b"\xff\xd8" + app0 + sof0 + b"\xff\xd9"
