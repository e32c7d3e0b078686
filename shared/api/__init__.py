"""The content API (functions/api): accounts, posts, campaigns, approvals, live status, over JSON.

`app.create_app()` builds it; each resource's routes live in `routes/<resource>.py`.
"""
