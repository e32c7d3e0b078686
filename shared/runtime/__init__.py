"""Runtime plumbing: configuration, structured logging, lazily created Google clients."""
