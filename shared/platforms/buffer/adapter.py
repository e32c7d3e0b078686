"""Buffer as a publishing route (see shared/platforms/base.py): an account is a Buffer channel, its
posts go to Buffer, and Buffer sends them to the network behind the channel (docs/platforms.md#buffer).

Posts pass the same approval gate, content hash, caps, claim and state machine as every other
platform's. This module is the contract and its wiring; the work is in networks.py and validation.py
(the network's rules and Buffer's), publish.py (createPost once, media by signed URL), settle.py
(status until sent or errored; unknown outcomes settled by lookup.py), limits.py (caps from the plan's
request limits), metrics.py (Buffer's post metrics) and client.py / rate_limits.py (the GraphQL API).
"""

from __future__ import annotations

from shared.errors import AuthError
from shared.model.account import Account
from shared.model.content import ContentItem, TargetSpec
from shared.model.platform import network_name
from shared.platforms.base import ReviewCard
from shared.platforms.buffer.limits import DEFAULT_LIMITS, limits_for_account  # noqa: F401 - the adapter contract
from shared.platforms.buffer.metrics import METRICS_BATCH_SIZE, fetch_metrics  # noqa: F401 - the adapter contract
from shared.platforms.buffer.publish import client_for, publish  # noqa: F401 - the adapter contract
from shared.platforms.buffer.settle import check_status, reconcile  # noqa: F401 - the adapter contract
from shared.platforms.buffer.validation import channel_id, planned_post, validate  # noqa: F401 - the adapter contract
from shared.runtime.config_model import Config


def preview(content: ContentItem, target: TargetSpec, account: Account) -> ReviewCard:
    post = planned_post(content, target, account)
    network = network_name(post.network)
    fields = [("Sent through", f"Buffer, to the {network} channel {account.get('handle') or channel_id(account)}"),
              *post.fields,
              ("When", "handed to Buffer at the planned time; Buffer sends it at once (not via its queue)")]
    # Where Buffer takes the network's AI label (isAiGenerated) it is sent; elsewhere the card says there is none.
    unavailable = None if post.ai_label else f"Buffer takes no AI label for these {network} posts"
    return ReviewCard(text=post.text or "(none: no caption is posted)", fields=fields, media=post.media,
                      text_label=post.text_label, ai_field_unavailable=unavailable)


def refresh_tokens(tokens: dict, *, config: Config, http=None) -> dict:
    """A Buffer API key cannot be refreshed: when Buffer refuses it, a person must replace it (the
    Buffer configuration) and the account needs reconnecting."""
    raise AuthError("Buffer refused the API key and a key cannot be refreshed; replace the Buffer configuration's key")


def identity(tokens, config: Config, account: Account) -> dict:
    """Test connection: Buffer's own answer for the account's channel, with the configuration's key."""
    channel = client_for(tokens, config).channel(channel_id(account))
    if channel is None:
        raise AuthError(f"Buffer has no channel {channel_id(account)} for this key", platform_code="channel_not_found")
    if channel.is_disconnected:
        raise AuthError(f"Buffer channel {channel.name} is disconnected in Buffer: reconnect it in Buffer",
                        platform_code="channel_disconnected")
    return {"platform_account_id": channel.id, "handle": channel.name or None,
            "name": f"{network_name(channel.service)} channel in Buffer"}
