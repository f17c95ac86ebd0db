"""Offline speech-to-text in worker processes: pocketsphinx off the event loop, on every core.

pocketsphinx holds the GIL while it decodes, so in the server process every
call's recognition competes with every call's audio handling on one core.
Here each call's decoder lives in one of a few worker processes (one per
core); its audio goes over a pipe in 100 ms pieces, and the event loop only
waits on the answer. A decoder is some 13 MB; a worker gives it back to the
system as soon as its call is closed, or its call's recogniser is collected.
"""

import asyncio
import concurrent.futures
import itertools
import multiprocessing
import os
import threading
import weakref

from voice.phone.stt.base import Vocabulary, release_freed_memory
from voice.phone.stt.pocketsphinx import PocketsphinxSTT


def _serve(connection) -> None:
    """A worker process: keeps its calls' recognisers and runs what the server asks."""
    from voice.phone.stt.pocketsphinx import Recogniser

    recognisers: dict[int, Recogniser] = {}
    while True:
        try:
            stream, method, args = connection.recv()
        except EOFError:
            return
        try:
            if method == "open":
                recognisers[stream] = Recogniser(*args)
                result = None
            elif method == "close":
                recognisers.pop(stream, None)
                result = None
            else:
                result = getattr(recognisers[stream], method)(*args)
            connection.send((True, result))
        except Exception as error:  # reported to the caller's stream, the worker carries on
            connection.send((False, repr(error)))
        if method == "close":  # after answering: the closing call does not wait for it
            release_freed_memory()


class _Worker:
    def __init__(self):
        context = multiprocessing.get_context("spawn")  # no copy of the server's threads and sockets
        self.connection, child = context.Pipe()
        self.process = context.Process(target=_serve, args=(child,), daemon=True, name="stt-worker")
        self.process.start()
        child.close()
        # One thread per worker keeps each pipe's requests and answers in order.
        self.executor = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="stt-pipe")

    def call(self, stream: int, method: str, args: tuple):
        self.connection.send((stream, method, args))
        ok, result = self.connection.recv()
        if not ok:
            raise RuntimeError(f"speech recognition worker failed: {result}")
        return result

    def close_later(self, stream: int) -> None:
        """Frees a stream's decoder without waiting: safe from any thread, even the garbage collector's."""
        self.executor.submit(self.call, stream, "close", ())


_WORKERS: list[_Worker] = []
_WORKERS_LOCK = threading.Lock()
_STREAMS = itertools.count(1)


def _workers() -> list[_Worker]:
    with _WORKERS_LOCK:
        if not _WORKERS:
            _WORKERS.extend(_Worker() for _ in range(max(1, os.cpu_count() or 1)))
        return _WORKERS


class PocketsphinxWorkerSTT(PocketsphinxSTT):
    def __init__(self, *, vocabulary: Vocabulary):
        self.stream = next(_STREAMS)
        workers = _workers()
        self.worker = workers[self.stream % len(workers)]
        super().__init__(vocabulary=vocabulary)
        # A call that never reaches close() (daphne cancels a connection's handler 10 s after
        # the socket closed; an error) must not leave its decoder in the worker for good.
        self._closer = weakref.finalize(self, self.worker.close_later, self.stream)
        self._closer.atexit = False

    async def _open(self) -> None:
        await self._call("open", self._files)

    async def _call(self, method: str, *args):
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.worker.executor, self.worker.call, self.stream, method, args)

    async def close(self) -> None:
        if self._closer.detach() is not None:
            await self._call("close")
