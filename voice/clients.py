"""Cloud SDK clients shared by the calls of one event loop.

An Anthropic, Deepgram or ElevenLabs client holds a TLS context and a
connection pool: some 20 ms of CPU to make, which every call paid for each of
its providers, and a pool that only that call then reused. One client per
event loop and configuration serves every call of a server process and keeps
its connections warm for the next. Connections belong to the loop that opened
them (tests run several loops), so clients are kept per loop and go with it.
"""

import asyncio
import weakref
from collections.abc import Callable
from typing import TypeVar

Client = TypeVar("Client")
_CLIENTS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, object]] = weakref.WeakKeyDictionary()


def client_shared(make: Callable[..., Client], **options) -> Client:
    """`make(**options)` for the running event loop, made on first use."""
    clients = _CLIENTS.setdefault(asyncio.get_running_loop(), {})
    key = f"{make.__module__}.{make.__qualname__}{sorted(options.items())!r}"
    if key not in clients:
        clients[key] = make(**options)
    return clients[key]  # type: ignore[return-value]
