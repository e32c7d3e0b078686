"""Campaigns: named groups of posts (Firestore collection `campaigns`); a post's `campaign` holds the id."""
