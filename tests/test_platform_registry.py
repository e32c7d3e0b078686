"""Every platform the topology publishes to has an adapter, a deployed function and caps;
no emulator needed."""

from __future__ import annotations

import inspect

import pytest

from shared.model.account import BUFFER_CONFIG_SECRET_PREFIX
from shared.platforms.registry import PLATFORMS, adapter_for
from shared.topology import get_topology


def test_every_publish_topic_has_an_adapter_and_a_function():
    topology = get_topology()
    platforms = {t.platform for t in topology.topics.values() if t.platform}
    assert platforms == set(PLATFORMS)
    for platform in platforms:
        topic = topology.publish_topic(platform)
        consumers = [name for name, fn in topology.functions.items() if fn.trigger.topic == topic]
        assert consumers == [f"publish-{platform}"]
        fn = topology.functions[f"publish-{platform}"]
        if platform == "buffer":  # the Buffer configuration's API key: read, never refreshed
            assert fn.access.secret_prefixes == {BUFFER_CONFIG_SECRET_PREFIX: "read"}
        else:
            assert fn.access.secret_prefixes == {f"{platform}-account-": "rotate"}  # rotated tokens are written back


@pytest.mark.parametrize("platform", PLATFORMS)
def test_adapter_has_the_contract(platform):
    adapter = adapter_for(platform)
    for name in ("validate", "publish", "check_status", "refresh_tokens"):
        assert callable(getattr(adapter, name)), name
    assert list(inspect.signature(adapter.validate).parameters) == ["content", "target", "account"]
    assert adapter.DEFAULT_LIMITS and all(lim.max_count > 0 and lim.window_seconds > 0 for lim in adapter.DEFAULT_LIMITS)


def test_unknown_platform_is_a_config_error():
    from shared.errors import ConfigError

    with pytest.raises(ConfigError, match="unknown platform 'myspace'"):
        adapter_for("myspace")
