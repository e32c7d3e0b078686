"""What each deployed function does, one module per function (or per functions/<name>/ source), in
terms of the features and the pipeline. `shared.entrypoints` loads a function's module at its first
call (cold start); each module imports what it needs at its top."""
