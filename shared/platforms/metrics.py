"""What every adapter's fetch_metrics shares (see base.py): the batch bound, which platform id a post
is asked for by, and the answer as one entry per post, in the order of ctx.posts.

A post that lacks the id its platform's metrics call needs is refused without a call; a post the
platform's answer does not mention is refused with the platform's silence as the reason.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from shared.model.analytics import MetricsRefused, PlatformMetrics
from shared.model.post import Post

Answer = PlatformMetrics | MetricsRefused


def check_batch(platform: str, posts: Sequence[Post], limit: int) -> None:
    """More posts than one call may carry is the caller's bug (it must split batches), not the platform's."""
    if len(posts) > limit:
        raise ValueError(f"{platform} fetch_metrics takes at most {limit} posts per call, got {len(posts)}")


def ids_to_fetch(posts: Sequence[Post], key: str) -> list[str]:
    """The distinct platform ids under `key`, in the posts' order (a post without one is left out)."""
    return list(dict.fromkeys(p.platform_ids[key] for p in posts if p.platform_ids.get(key)))


def in_post_order(posts: Sequence[Post], key: str, answers: Mapping[str, Answer], *, no_id: str | Callable[[Post], str],
                  not_answered: str, fallback_key: str | None = None) -> list[Answer]:
    """One answer per post: the platform's for its id, else a refusal saying why there is none.
    `no_id`: the reason for a post without the id (a callable gets the post); the refusal then names
    the post by `fallback_key` (e.g. TikTok's publish_id) when it has one."""
    out: list[Answer] = []
    for post in posts:
        platform_id = post.platform_ids.get(key)
        if not platform_id:
            reason = no_id(post) if callable(no_id) else no_id
            named = post.platform_ids.get(fallback_key, "") if fallback_key else ""
            out.append(MetricsRefused(platform_post_id=named, reason=reason))
        else:
            out.append(answers.get(platform_id) or MetricsRefused(platform_post_id=platform_id, reason=not_answered))
    return out
