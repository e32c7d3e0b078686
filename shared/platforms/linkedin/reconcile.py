"""Is the post we sent on LinkedIn? (POST /rest/posts has no idempotency key, so a create whose answer
was lost is settled by looking, never by posting again.)

The author's posts come from the Posts API finder (GET /rest/posts?q=author&sortBy=CREATED), newest
created first, so reading stops at the first post created before the create was sent. A post is
ours when its commentary is exactly the little-text commentary we sent and it carries the media
URN we uploaded (or, like ours, none).
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.platforms.linkedin.client import LinkedInClient

PAGE_SIZE = 50
MAX_PAGES = 5  # 250 posts by one author since the create was sent is far more than any makes


@dataclass(frozen=True)
class AuthorSearch:
    post: dict | None  # the matching post as LinkedIn returned it
    complete: bool  # every post created since `created_after_ms` was read


def find_sent_post(client: LinkedInClient, author: str, commentary: str, media_urn: str | None,
                   created_after_ms: int) -> AuthorSearch:
    start = 0
    for _ in range(MAX_PAGES):
        elements = client.find_posts_by_author(author, start=start, count=PAGE_SIZE).get("elements") or []
        for post in elements:
            if int(post.get("createdAt") or 0) < created_after_ms:  # older from here on
                return AuthorSearch(None, complete=True)
            if is_sent_post(post, commentary, media_urn):
                return AuthorSearch(post, complete=True)
        if len(elements) < PAGE_SIZE:
            return AuthorSearch(None, complete=True)
        start += len(elements)
    return AuthorSearch(None, complete=False)


def is_sent_post(post: dict, commentary: str, media_urn: str | None) -> bool:
    posted_media = ((post.get("content") or {}).get("media") or {}).get("id")
    return post.get("commentary") == commentary and posted_media == media_urn
