"""Accounts: the platform accounts Postgate publishes to, their connection (OAuth) and its health."""
