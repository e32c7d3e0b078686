"""YouTube Content ID: the content owner's assets, and claims and claim policies as approved changes."""
