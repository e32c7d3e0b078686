"""YouTube Data API v3: resumable video upload, processing status, privacy, quota (platforms.md section 4)."""
