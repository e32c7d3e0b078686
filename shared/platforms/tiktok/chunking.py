"""TikTok FILE_UPLOAD chunk plan (docs/platforms.md#tiktok-chunk-rules)."""

from __future__ import annotations

from dataclasses import dataclass

from shared.errors import ValidationError

MIN_CHUNK = 5 * 1024 * 1024
MAX_CHUNK = 64 * 1024 * 1024
MAX_LAST_CHUNK = 128 * 1024 * 1024
MAX_VIDEO = 4 * 1024 * 1024 * 1024
MAX_CHUNKS = 1000


@dataclass(frozen=True)
class ChunkPlan:
    video_size: int
    chunk_size: int
    total_chunk_count: int

    def ranges(self) -> list[tuple[int, int]]:
        """Inclusive (first, last) byte offsets; the remainder rides in the last chunk."""
        out = []
        for index in range(self.total_chunk_count):
            first = index * self.chunk_size
            last = self.video_size - 1 if index == self.total_chunk_count - 1 else first + self.chunk_size - 1
            out.append((first, last))
        return out

    def ranges_from(self, held: int) -> list[tuple[int, int]]:
        """What is left once TikTok holds the first `held` bytes: the rest of the chunk they end in
        (a PUT must start where the upload stands: 416 otherwise, per the media transfer guide),
        then the planned chunks after it."""
        out = []
        for first, last in self.ranges():
            if last < held:
                continue
            out.append((max(first, held), last))
        return out


def plan_chunks(video_size: int, preferred_chunk: int) -> ChunkPlan:
    """Under 5 MB one chunk; otherwise floor(size / chunk) chunks with the remainder in the last.
    A video over 64 MB always goes in several chunks, whatever chunk size is configured."""
    if video_size <= 0:
        raise ValidationError("video is empty", field="video", limit="size > 0")
    if video_size > MAX_VIDEO:
        raise ValidationError(f"video is {video_size} bytes; TikTok accepts at most 4 GB", field="video", limit="4 GB")
    if video_size < MIN_CHUNK:
        return ChunkPlan(video_size, video_size, 1)
    chunk = max(MIN_CHUNK, min(preferred_chunk, MAX_CHUNK, video_size))
    count = video_size // chunk
    if count > MAX_CHUNKS:  # only reachable with a tiny preferred chunk: grow it
        chunk = -(-video_size // MAX_CHUNKS)
        count = video_size // chunk
    if count == 1 and video_size > MAX_CHUNK:
        # A chunk over half the video would leave one chunk carrying it all, and TikTok takes a
        # file over 64 MB only in several chunks: halve it (the last then holds at most 1 byte more).
        chunk, count = video_size // 2, 2
    return ChunkPlan(video_size, chunk, count)
