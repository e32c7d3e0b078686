"""TikTok Content Posting API v2: client, chunk plan and error classification. Nothing of the pipeline."""
