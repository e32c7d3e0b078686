"""TikTok Content Posting API v2: client, chunk plan, error classification, and the adapter."""
