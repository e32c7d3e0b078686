"""The pipeline around platform clients: approval gate, claim, publish, status polling, publish log."""
