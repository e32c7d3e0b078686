"""Buffer as a publishing route: a Buffer channel is a Postgate account (docs/platforms.md#buffer)."""
