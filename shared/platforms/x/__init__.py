"""X API v2: client (media upload, posts, token refresh), weighted-length validation, and the adapter."""
