"""What the HTTP fakes share: a threaded server on 127.0.0.1 that answers each request with the next scripted reply."""

import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        # A client may go at any time, as with the real service (a caller's barge-in cancels the reply it was
        # reading): only what else goes wrong is worth a traceback.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class ScriptedHTTPServer:
    """Subclasses give `_handler()` (the request handler class) and `_default_reply()` (when nothing is scripted)."""

    def __init__(self):
        self.replies: list = []
        self._lock = threading.Lock()
        self._server = _Server(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address
        return f"http://{host}:{port}"

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._server.shutdown()
        self._server.server_close()

    def script(self, *replies) -> None:
        with self._lock:
            self.replies.extend(replies)

    def _next(self):
        with self._lock:
            return self.replies.pop(0) if self.replies else self._default_reply()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        raise NotImplementedError

    def _default_reply(self):
        raise NotImplementedError
