"""Approval: signed single-use links, the confirm page, notifiers and the recorded decision."""
