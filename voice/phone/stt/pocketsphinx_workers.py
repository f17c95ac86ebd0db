"""Offline speech-to-text in worker processes: pocketsphinx off the event loop, on every core.

pocketsphinx holds the GIL while it decodes, so in the server process every
call's recognition competes with every call's audio handling on one core.
Here each call's decoder lives in one of a few worker processes (one per
core); its audio goes over a pipe, and the event loop only waits on answers.

Each worker has a queue per call, served by one thread that keeps the pipe's
requests and answers in order. What a call asked for since it was last served
goes in one request (its 100 ms pieces coalesced), and a call whose turn has
ended is served before calls still talking: with 50 callers on two cores a
finished turn no longer waits behind a queue of other calls' pieces. A call
does not wait for its pieces to be decoded longer than FEED_WAIT: when the
workers are behind, the call's audio keeps flowing (so its end of turn is
found on time) and the partial transcript it is given is the latest one
decoded. A decoder is some 8 MB (more while a narrow search is in use); a
worker gives it back to the system as soon as its call is closed, or its
call's recogniser is collected.
"""

import asyncio
import collections
import concurrent.futures
import functools
import itertools
import logging
import multiprocessing
import os
import threading
import weakref

from voice.phone.stt.base import Vocabulary, release_freed_memory
from voice.phone.stt.pocketsphinx import PIECE_BYTES, PocketsphinxSTT

logger = logging.getLogger(__name__)

FEED_WAIT = 0.02  # seconds a call's feed() waits for its piece's partial transcript before going on without it
URGENT = {"finish", "close"}  # a call waits on these: its queue goes ahead of the others'


def _serve(connection) -> None:
    """A worker process: keeps its calls' recognisers and runs what the server asks, a call's batch at a time."""
    from voice.phone.stt.pocketsphinx import Recogniser

    recognisers: dict[int, Recogniser] = {}
    while True:
        try:
            stream, batch = connection.recv()
        except EOFError:
            return
        results, closed = [], False
        for method, args in batch:
            try:
                if method == "open":
                    recognisers[stream] = Recogniser(*args)
                    result = None
                elif method == "close":
                    recognisers.pop(stream, None)
                    closed, result = True, None
                else:
                    result = getattr(recognisers[stream], method)(*args)
                results.append((True, result))
            except Exception as error:  # reported to the caller's stream, the worker carries on
                results.append((False, repr(error)))
        connection.send(results)
        if closed:  # after answering: the closing call does not wait for it
            release_freed_memory()


class _Request:
    __slots__ = ("args", "futures", "method")

    def __init__(self, method: str, args: tuple, future: concurrent.futures.Future):
        self.method, self.args, self.futures = method, args, [future]


class _Worker:
    def __init__(self):
        context = multiprocessing.get_context("spawn")  # no copy of the server's threads and sockets
        self.connection, child = context.Pipe()
        self.process = context.Process(target=_serve, args=(child,), daemon=True, name="stt-worker")
        self.process.start()
        child.close()
        self._lock = threading.Condition()
        self._queues: dict[int, list[_Request]] = {}  # per stream, what it asked for and was not yet sent
        self._urgent: collections.OrderedDict[int, None] = collections.OrderedDict()  # streams a caller waits on
        self._others: collections.OrderedDict[int, None] = collections.OrderedDict()  # round robin
        threading.Thread(target=self._run, daemon=True, name="stt-pipe").start()

    def submit(self, stream: int, method: str, args: tuple) -> concurrent.futures.Future:
        """Queues a request; safe from any thread, even the garbage collector's."""
        future = concurrent.futures.Future()
        with self._lock:
            queue = self._queues.setdefault(stream, [])
            last = queue[-1] if queue else None
            if method == "feed" and last is not None and last.method == "feed":
                last.args = (last.args[0] + args[0],)  # one decode for the pieces that waited
                last.futures.append(future)
            else:
                queue.append(_Request(method, args, future))
            if method in URGENT:
                self._others.pop(stream, None)
                self._urgent[stream] = None
            elif stream not in self._urgent:
                self._others[stream] = None
            self._lock.notify()
        return future

    def call(self, stream: int, method: str, args: tuple):
        """Blocking: for threads, not the event loop."""
        return self.submit(stream, method, args).result()

    def close_later(self, stream: int) -> None:
        """Frees a stream's decoder without waiting."""
        self.submit(stream, "close", ())

    def _next(self) -> tuple[int, list[_Request]]:
        with self._lock:
            while not (self._urgent or self._others):
                self._lock.wait()
            stream = (self._urgent or self._others).popitem(last=False)[0]
            return stream, self._queues.pop(stream)

    def _run(self) -> None:
        while True:
            try:
                self._serve_next()
            except Exception:  # never leave the worker's calls waiting for good
                logger.exception("speech recognition pipe failed")

    def _serve_next(self) -> None:
        """One stream's queued requests: one message to the worker, one back."""
        stream, requests = self._next()
        try:
            self.connection.send((stream, [(r.method, r.args) for r in requests]))
            results = self.connection.recv()
        except Exception as error:  # the worker is gone: every request fails
            results = [(False, repr(error))] * len(requests)
        for request, (ok, result) in zip(requests, results):
            for future in request.futures:
                if not future.set_running_or_notify_cancel():
                    continue  # its caller stopped waiting (its handler was cancelled): the work was still done
                if ok:
                    future.set_result(result)
                else:
                    future.set_exception(RuntimeError(f"speech recognition worker failed: {result}"))


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
        self._worker: _Worker | None = None
        self._closer: weakref.finalize | None = None
        super().__init__(vocabulary=vocabulary)
        self._decoding: set[asyncio.Future] = set()  # requests queued and not yet answered, kept referenced
        self._partial: str | None = None  # the latest partial transcript decoded, not yet given out
        self._last_partial = ""
        self._turns = 0  # so a late answer about an earlier turn is not taken for this one's
        self._failed: Exception | None = None  # a queued request that failed, raised at the next feed or finish

    @property
    def worker(self) -> _Worker:
        """Chosen, and the workers started, at the call's first use: a server whose calls are heard by a cloud
        recogniser, with this one only as its fallback, runs no workers until one is needed."""
        if self._worker is None:
            workers = _workers()
            self._worker = workers[self.stream % len(workers)]
            # A call that never reaches close() (daphne cancels a connection's handler 10 s after
            # the socket closed; an error) must not leave its decoder in the worker for good.
            self._closer = weakref.finalize(self, self._worker.close_later, self.stream)
            self._closer.atexit = False
        return self._worker

    async def _open(self) -> None:
        await self._call("open", self._files)

    async def _call(self, method: str, *args):
        return await asyncio.wrap_future(self.worker.submit(self.stream, method, args))

    async def begin(self) -> None:
        """Queued, not waited for: a failure shows at the turn's first piece or its end."""
        await self.connect()
        self._pending.clear()
        self._started = True
        self._partial = None
        self._last_partial = ""
        self._turns += 1
        self._queue("begin", self._search)

    def _queue(self, method: str, *args) -> asyncio.Future:
        future = asyncio.wrap_future(self.worker.submit(self.stream, method, args))
        self._decoding.add(future)
        future.add_done_callback(functools.partial(self._decoded, self._turns))
        return future

    def _decoded(self, turn: int, future: asyncio.Future) -> None:
        self._decoding.discard(future)
        if future.cancelled() or turn != self._turns:
            return
        if future.exception() is not None:
            self._failed = self._failed or future.exception()
        elif future.result() is not None:
            self._partial = future.result()

    async def feed(self, pcm: bytes) -> str | None:
        if not self._started:
            await self.begin()
        self._raise_failure()
        self._pending += pcm
        if len(self._pending) >= PIECE_BYTES:
            piece = bytes(self._pending)
            self._pending.clear()
            future = self._queue("feed", piece)
            # Quiet workers answer within a few milliseconds; busy ones must not hold up the call's audio.
            await asyncio.wait([future], timeout=FEED_WAIT)
        self._raise_failure()
        partial, self._partial = self._partial, None
        if partial is None or partial == self._last_partial:
            return None
        self._last_partial = partial
        return partial

    def _raise_failure(self) -> None:
        if self._failed is not None:
            failed, self._failed = self._failed, None
            self._started = False
            self._pending.clear()
            raise failed

    async def finish(self):
        if self._started:
            self._raise_failure()
        return await super().finish()

    async def close(self) -> None:
        if self._closer is not None and self._closer.detach() is not None:
            await self._call("close")
