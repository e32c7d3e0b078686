"""Media URLs fetched into the media bucket (shared/content/media_import.py): only public addresses are
ever connected to, whatever a name resolves to (the network checks run in tests/test_api_v1_posts.py)."""

from __future__ import annotations

import pytest

from shared.content.media_import import FetchRules, fetch, public_address
from shared.errors import ValidationError

RULES = FetchRules(max_bytes=1024, timeout_seconds=2, overrides={})


@pytest.mark.parametrize("address", ["127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254",
                                     "100.64.0.1", "0.0.0.0", "224.0.0.1", "::1", "fe80::1", "fc00::1",
                                     "::ffff:127.0.0.1", "::ffff:169.254.169.254"])
def test_private_loopback_link_local_and_mapped_addresses_are_not_public(address):
    assert not public_address(address)


@pytest.mark.parametrize("address", ["93.184.215.14", "8.8.8.8", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"])
def test_internet_addresses_are_public(address):
    assert public_address(address)


def test_a_name_resolving_to_any_private_address_is_refused_before_connecting():
    asked: list[str] = []

    def resolver(host: str, port: int) -> list[str]:
        asked.append(host)
        return ["93.184.215.14", "10.0.0.7"]  # one private answer is enough to refuse (DNS rebinding)

    with pytest.raises(ValidationError) as refused:
        fetch("https://media.example/image.jpg?sig=secret", field="media_urls[0]", rules=RULES, resolver=resolver)
    assert refused.value.field == "media_urls[0]" and "not public" in str(refused.value)
    assert "secret" not in str(refused.value) and asked == ["media.example"]


def test_an_override_matches_a_whole_host_not_a_longer_one():
    rules = FetchRules(max_bytes=1024, timeout_seconds=2, overrides={"https://example.com": "http://127.0.0.1:9"})
    with pytest.raises(ValidationError) as refused:  # not served from the override: resolved, and refused
        fetch("https://example.com.evil.test/x.jpg", field="media_urls[0]", rules=rules,
              resolver=lambda host, port: ["127.0.0.1"])
    assert "not public" in str(refused.value)
