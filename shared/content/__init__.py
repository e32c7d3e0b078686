"""Content: briefs, generated drafts, their versions and the hash approvals bind to."""
