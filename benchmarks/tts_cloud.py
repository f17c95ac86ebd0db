"""ElevenLabs' two transports side by side: the SDK's HTTP streaming and the stream-input websocket.

Run: `.venv/bin/python -m benchmarks.tts_cloud`. Both speak the receptionist's usual sentences (those of
benchmarks/tts.py) through ElevenLabsTTS against the fake API (tests/fakes/elevenlabs_api.py), ROUNDS calls
of one provider instance each, as a call does, and it prints the time from a sentence asked for to its first
audio byte (p50, p95, max). The fake stands for the server: GENERATION_SECONDS before each sentence's first
audio, and it speaks espeak-ng. The network is a proxy in front of it that holds every byte for half the
round trip each way, and each new connection for two round trips (TCP's handshake and TLS 1.3's), which
127.0.0.1 does not have; it runs at each of RTTS_MS. Issue 11: keep the transport with the lower first byte.
"""

import asyncio
import os
import sys
import threading
import time

from benchmarks.common import machine, percentile
from benchmarks.tts import SENTENCES

ROUNDS = 5  # calls; each speaks every sentence once
GENERATION_SECONDS = 0.075  # ElevenLabs' published model latency for its Flash models
RTTS_MS = (0, 30)  # a server in the same region, and one across the country
TRANSPORTS = ("http", "websocket")


class DelayingProxy:
    """A TCP proxy on 127.0.0.1 that adds a round trip time: setup takes two, every byte half of one each way."""

    def __init__(self, upstream_port: int, rtt: float):
        self.upstream_port, self.rtt = upstream_port, rtt
        self.loop = asyncio.new_event_loop()
        self.writers: set[asyncio.StreamWriter] = set()
        self.port = 0

    def __enter__(self):
        threading.Thread(target=self.loop.run_forever, daemon=True).start()
        asyncio.run_coroutine_threadsafe(self._listen(), self.loop).result(5)
        return self

    def __exit__(self, *exc):
        asyncio.run_coroutine_threadsafe(self._close(), self.loop).result(5)
        self.loop.call_soon_threadsafe(self.loop.stop)

    async def _listen(self) -> None:
        self.server = await asyncio.start_server(self._connection, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]

    async def _close(self) -> None:
        """Ends the connections the clients left open (a provider's HTTP pool keeps its connection)."""
        self.server.close()
        for writer in self.writers:
            writer.close()
        others = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        await asyncio.wait(others, timeout=5)

    async def _connection(self, client_reader, client_writer) -> None:
        await asyncio.sleep(2 * self.rtt)  # SYN, SYN-ACK, then TLS 1.3's one round trip
        server_reader, server_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        self.writers |= {client_writer, server_writer}
        await asyncio.gather(self._pipe(client_reader, server_writer), self._pipe(server_reader, client_writer))

    async def _pipe(self, reader, writer) -> None:
        """Each piece arrives half a round trip after it was sent, in order."""
        pieces: asyncio.Queue = asyncio.Queue()

        async def deliver():
            while (piece := await pieces.get()) is not None:
                sent, data = piece
                await asyncio.sleep(max(0.0, sent + self.rtt / 2 - time.perf_counter()))
                writer.write(data)
                await writer.drain()
            writer.close()

        delivery = asyncio.create_task(deliver())
        try:
            while data := await reader.read(65536):
                pieces.put_nowait((time.perf_counter(), data))
        except ConnectionError:
            pass
        pieces.put_nowait(None)
        await delivery


async def first_bytes(make_tts) -> list[float]:
    """Milliseconds from each sentence asked for to its first audio, over ROUNDS calls."""
    firsts = []
    for _ in range(ROUNDS):
        tts = make_tts()
        for sentence in SENTENCES:
            started = time.perf_counter()
            first = None
            async for _piece in tts.synthesize(sentence):
                if first is None:
                    first = (time.perf_counter() - started) * 1000
            firsts.append(first)
    return firsts


def main() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "receptionist_site.settings")
    import django

    django.setup()
    from django.conf import settings

    from tests.fakes.elevenlabs_api import FakeElevenLabs, Reply
    from voice.phone.tts.elevenlabs import ElevenLabsTTS

    print(f"ElevenLabs transports against the fake; {machine()}; {len(SENTENCES)} sentences x {ROUNDS} calls, "
          f"{GENERATION_SECONDS * 1000:.0f} ms to first audio at the server")
    p50s = {}
    with FakeElevenLabs() as api:
        host, port = api.base_url.rsplit(":", 1)
        settings.ELEVENLABS_API_KEY, settings.ELEVENLABS_VOICE_ID = "bench-key", "bench-voice"
        for rtt_ms in RTTS_MS:
            with DelayingProxy(int(port), rtt_ms / 1000) as proxy:
                settings.ELEVENLABS_BASE_URL = f"{host}:{proxy.port}"
                for transport in TRANSPORTS:
                    settings.ELEVENLABS_TRANSPORT = transport
                    api.script(*[Reply(delay=GENERATION_SECONDS)] * (ROUNDS * len(SENTENCES)))
                    firsts = asyncio.run(first_bytes(ElevenLabsTTS))
                    p50s[rtt_ms, transport] = percentile(firsts, 50)
                    print(f"  round trip {rtt_ms} ms, {transport}: first audio p50 {p50s[rtt_ms, transport]:.0f} ms, "
                          f"p95 {percentile(firsts, 95):.0f} ms, max {max(firsts):.0f} ms")
    for rtt_ms in RTTS_MS:
        print(f"  round trip {rtt_ms} ms: the websocket's first audio p50 is "
              f"{p50s[rtt_ms, 'websocket'] - p50s[rtt_ms, 'http']:+.0f} ms against HTTP's")
    return 0


if __name__ == "__main__":
    sys.exit(main())
