"""The GraphQL documents Postgate sends to Buffer, one per operation, with variables for every value
(never a value spliced into a document). Only fields Buffer documents are asked for
(developers.buffer.com/reference.html, types Post, Channel, PostsResults, DailyPostingLimitStatus).
"""

from __future__ import annotations

# What every post answer carries. `assets` is an interface list: `source` is each asset's URL.
POST_FIELDS = """
fragment PostFields on Post {
  id
  status
  text
  channelId
  channelService
  createdAt
  dueAt
  sentAt
  externalLink
  error { message supportUrl }
  assets { type source }
}
"""

CHANNEL_FIELDS = "id name service organizationId avatar isDisconnected"

ORGANIZATIONS = "query Organizations { account { organizations { id name } } }"

CHANNELS = f"""
query Channels($input: ChannelsInput!) {{
  channels(input: $input) {{ {CHANNEL_FIELDS} }}
}}
"""

CHANNEL = f"""
query Channel($input: ChannelInput!) {{
  channel(input: $input) {{ {CHANNEL_FIELDS} }}
}}
"""

# Always ask for MutationError too: Buffer's typed errors (InvalidInputError, LimitReachedError, ...)
# come back in `data` on HTTP 200 (developers.buffer.com/guides/error-handling.html).
CREATE_POST = POST_FIELDS + """
mutation CreatePost($input: CreatePostInput!) {
  createPost(input: $input) {
    __typename
    ... on PostActionSuccess { post { ...PostFields } }
    ... on MutationError { message }
  }
}
"""

POST = POST_FIELDS + """
query Post($input: PostInput!) {
  post(input: $input) { ...PostFields }
}
"""

POSTS = POST_FIELDS + """
query Posts($input: PostsInput!, $first: Int, $after: String) {
  posts(input: $input, first: $first, after: $after) {
    edges { node { ...PostFields } }
    pageInfo { hasNextPage endCursor }
  }
}
"""

DAILY_POSTING_LIMITS = """
query DailyPostingLimits($input: DailyPostingLimitsInput!) {
  dailyPostingLimits(input: $input) { channelId sent scheduled limit isAtLimit }
}
"""


def post_metrics(count: int) -> str:
    """`count` post lookups in one request, aliased p0..p<count-1> (Buffer allows 30 aliases per query),
    each with its metrics (developers.buffer.com/guides/post-metrics.html)."""
    params = ", ".join(f"$in{i}: PostInput!" for i in range(count))
    fields = "\n".join(f"  p{i}: post(input: $in{i}) {{ id status metrics {{ type value unit }} metricsUpdatedAt }}"
                       for i in range(count))
    return f"query PostMetrics({params}) {{\n{fields}\n}}"
