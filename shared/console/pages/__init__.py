"""The console's pages: one module per section, each with `register(bp)` adding its routes."""
