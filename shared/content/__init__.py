"""Content: briefs turned into AI drafts (drafts, generation, gemini), the team's own copy (own_copy,
text), the checks every new item passes (targets) and its versions (versions)."""
