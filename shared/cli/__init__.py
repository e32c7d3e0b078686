"""`postgate`: the operator command line over the content API (accounts, posts, calendar, campaigns, approvals)."""
