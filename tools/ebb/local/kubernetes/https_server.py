"""HTTP/1.1 over TLS on a free loopback port, in-process, handing requests to `ApiServer`.

Each connection gets its own thread (the TLS handshake happens there, so a client that rejects
the certificate cannot stall the others). Handlers never wait on the simulated clock: they take
the state lock, answer, and leave the controllers to the clock.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from ebb.local.kubernetes.api_server import ApiReply, ApiRequest, ApiServer

_IDLE_SECONDS = 5.0  # real seconds an idle keep-alive connection is kept open

# (method, path, answer) -> the reply of `answer()`. The local world installs one to make each
# request cost simulated time (ebb.local.latency); the stand-in alone answers at once.
RequestTiming = Callable[[str, str, Callable[[], ApiReply]], ApiReply]
_request_timings: list[RequestTiming] = []


def install_request_timing(timing: RequestTiming) -> None:
    """Answer every request through `timing` until `uninstall_request_timing`."""
    _request_timings.append(timing)


def uninstall_request_timing(timing: RequestTiming) -> None:
    """Undo `install_request_timing`."""
    if timing in _request_timings:
        _request_timings.remove(timing)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _TlsServer
    timeout = _IDLE_SECONDS
    # Buffer the response so status line, headers and body leave in one TLS record: written
    # apart, they meet the client's delayed ACK and cost ~40 ms a request.
    wbufsize = 1 << 16

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        request = ApiRequest(
            method=self.command,
            path=parts.path,
            query=dict(parse_qsl(parts.query, keep_blank_values=True)),
            headers={name.lower(): value for name, value in self.headers.items()},
            body=body,
        )
        api = self.server.api
        if _request_timings:
            reply = _request_timings[-1](request.method, request.path, lambda: api.handle(request))
        else:
            reply = api.handle(request)
        self._send(reply)

    def _send(self, reply: ApiReply) -> None:
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        for name, value in reply.headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(reply.body)

    do_GET = do_PUT = do_POST = do_PATCH = do_DELETE = _serve  # noqa: N815 - http.server's naming

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the per-request log lines."""


class _TlsServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, api: ApiServer, context: ssl.SSLContext) -> None:
        self.api = api
        self.context = context
        self.handshake_failures: list[str] = []
        self._connections: set[ssl.SSLSocket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _Handler)

    def finish_request(self, request: Any, client_address: Any) -> None:
        request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            connection = self.context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError) as error:
            self.handshake_failures.append(str(error))
            return
        with self._connections_lock:
            self._connections.add(connection)
        try:
            _Handler(connection, client_address, self)
        except (ssl.SSLError, OSError, ConnectionError):
            pass  # the client went away mid-request
        finally:
            with self._connections_lock:
                self._connections.discard(connection)
            connection.close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Errors are the client's business (a rejected certificate, a dropped connection)."""

    def close_connections(self) -> None:
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


class HttpsApiServer:
    """Serves an `ApiServer` over HTTPS until stopped."""

    def __init__(self, api: ApiServer, context: ssl.SSLContext) -> None:
        self._server = _TlsServer(api, context)
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The loopback port the server listens on."""
        return int(self._server.server_address[1])

    @property
    def handshake_failures(self) -> list[str]:
        """TLS handshakes that failed (a client that did not trust the certificate, for one)."""
        return list(self._server.handshake_failures)

    def start(self) -> None:
        """Start serving on a background thread."""
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="k8s-stand-in",
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop serving, drop open connections and release the port."""
        self._server.shutdown()
        self._server.close_connections()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
