"""YouTube metadata sync: change a published video's title, description, tags or privacy through
the same signed-link approval as a post, apply it with videos.update, and audit every decision."""
