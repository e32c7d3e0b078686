"""A video's duration from its MP4 / QuickTime header (the `mvhd` box), read in a few small ranges.

TikTok's guidelines ask the app to block a video longer than the creator's
`max_video_post_duration_sec` before posting it (docs/platforms.md#tiktok-endpoints). Nothing upstream records a
duration (a MediaRef has size and checksums only), so the publisher reads it here, from the approved
generation, before init. Anything that is not an ISO base media file (WebM, or bytes that are not a
video at all) has no readable duration: the answer is None and TikTok's own check
(`duration_check_failed`) is the only one.
"""

from __future__ import annotations

import struct
from typing import Callable

_MAX_BOXES = 64  # top-level boxes walked before giving up (real files have a handful)
_MVHD_READ = 32  # version/flags + the v1 times, timescale and duration fit in this many bytes


def mp4_duration_seconds(read: Callable[[int, int], bytes], size: int) -> float | None:
    """Seconds from moov/mvhd, or None when the file is not MP4/MOV or the header says nothing.
    `read(first, last)` returns bytes first..last inclusive."""
    moov = _find_box(read, 0, size, b"moov")
    if moov is None:
        return None
    mvhd = _find_box(read, moov[0], moov[1], b"mvhd")
    if mvhd is None:
        return None
    body = read(mvhd[0], min(mvhd[0] + _MVHD_READ, mvhd[1]) - 1)
    if not body:
        return None
    if body[0] == 1 and len(body) >= 32:  # version 1: 64-bit creation / modification times and duration
        timescale, duration = struct.unpack(">IQ", body[20:32])
        unknown = 0xFFFFFFFFFFFFFFFF
    elif body[0] == 0 and len(body) >= 20:
        timescale, duration = struct.unpack(">II", body[12:20])
        unknown = 0xFFFFFFFF
    else:
        return None
    if timescale == 0 or duration == unknown:
        return None
    return duration / timescale


def _find_box(read: Callable[[int, int], bytes], start: int, end: int, wanted: bytes) -> tuple[int, int] | None:
    """(first byte of the box's content, end of the box) of the first `wanted` box in start..end."""
    offset = start
    for _ in range(_MAX_BOXES):
        if offset + 8 > end:
            return None
        header = read(offset, min(offset + 16, end) - 1)
        box_size, box_type = struct.unpack(">I4s", header[:8])
        header_len = 8
        if box_size == 1:  # a 64-bit size follows the type
            if len(header) < 16:
                return None
            box_size, header_len = struct.unpack(">Q", header[8:16])[0], 16
        elif box_size == 0:  # the box runs to the end of its parent
            box_size = end - offset
        if not _is_box_type(box_type) or box_size < header_len:
            return None  # not an ISO base media file (or a damaged one): no duration to read
        if box_type == wanted:
            return offset + header_len, min(offset + box_size, end)
        offset += box_size
    return None


def _is_box_type(box_type: bytes) -> bool:
    return all(32 <= b < 127 for b in box_type)
