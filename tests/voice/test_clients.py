"""Cloud SDK clients: one per event loop and configuration, shared by that loop's calls."""

import asyncio

import anthropic

from voice.clients import client_shared


def test_the_calls_of_one_loop_share_a_client_and_another_loop_or_configuration_gets_its_own():
    async def two_calls(**options):
        return [client_shared(anthropic.AsyncAnthropic, **options) for _ in range(2)]

    first, second = asyncio.run(two_calls(api_key="a", max_retries=0))
    assert first is second
    [other_loop, _] = asyncio.run(two_calls(api_key="a", max_retries=0))
    assert other_loop is not first

    async def configured_apart():
        return (client_shared(anthropic.AsyncAnthropic, api_key="a", max_retries=0),
                client_shared(anthropic.AsyncAnthropic, api_key="b", max_retries=0))

    one, two = asyncio.run(configured_apart())
    assert one is not two and (one.api_key, two.api_key) == ("a", "b")
