"""YouTube Data API v3: resumable video upload, processing status, privacy, quota (docs/platforms.md#youtube)."""
