"""A stand-in for Neon's proxy, in front of the Neon-like cluster of `neon_local.py`.

Neon's clients never talk to PostgreSQL directly: a proxy terminates TLS, reads
the endpoint ID from the TLS server name (SNI) or from `options=endpoint%3D<id>`,
wakes the endpoint's compute if it is suspended, and only then connects to it.
While the compute wakes, or when it cannot be reached, the proxy itself answers
with an ErrorResponse in its own words (`Couldn't connect to compute node`;
under a connection storm `Failed to acquire permit ...`), texts taken from
Neon's proxy source and its connection-errors page. This proxy does the same:

- TLS only, negotiated with an SSLRequest or directly (`sslnegotiation=direct`,
  ALPN `postgresql`); a plaintext startup is refused as Neon refuses it.
- An endpoint ID ending in `-pooler` is routed to PgBouncer, any other to
  PostgreSQL; with `require_endpoint`, a client that names none is refused.
- `suspend(wake_after_s)` drops every connection, then answers new ones with
  `Couldn't connect to compute node` until the wake-up, which the first
  connection attempt starts and which takes `wake_after_s`.
- Authentication passes through to the server behind it. The proxy presents
  the same certificate, so SCRAM channel binding (`channel_binding=require`)
  works end to end against PostgreSQL; PgBouncer 1.18 cannot do it.
"""

from __future__ import annotations

import select
import socket
import ssl
import threading
import time
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import URL

from tests.standins import neon_wire as wire

COULD_NOT_CONNECT = "Couldn't connect to compute node"
NO_PERMIT = (
    "Failed to acquire permit to connect to the database. "
    "Too many database connection attempts are currently ongoing."
)
NO_ENDPOINT = (
    "The endpoint ID is not specified. Either upgrade the Postgres client library (libpq) "
    "for SNI support or pass the endpoint ID (the first part of the domain name) as a "
    "parameter: '&options=endpoint%3D<endpoint-id>'. See https://neon.tech/sni for more "
    "information."
)
INSECURE = "connection is insecure (try using `sslmode=require`)"
# Endpoint host names as Neon's (ep-<name>-<id>[-pooler].<region>.aws.neon.tech); the
# certificate covers *.neon.localtest, and URLs add hostaddr=127.0.0.1 so that nothing
# needs resolving while libpq still sends the name as SNI and verifies it.
DOMAIN = "neon.localtest"
ENDPOINT = "ep-quiet-fog-123456"


@dataclass
class Arrival:
    """What the proxy saw of one client connection, for the tests to check."""

    direct_tls: bool
    server_name: str | None
    endpoint: str | None = None
    answer: str = "forwarded"


class NeonProxy:
    """Start with `start()`, stop with `stop()` (always, also when a test fails)."""

    def __init__(self, certificate: Path, key: Path, direct_port: int, pooler_port: int) -> None:
        self.direct_port, self.pooler_port = direct_port, pooler_port
        self.require_endpoint = False
        self.arrivals: list[Arrival] = []
        self._tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._tls.load_cert_chain(certificate, key)
        self._tls.set_alpn_protocols(["postgresql"])
        self._tls.sni_callback = self._remember_server_name
        self._upstream_tls = ssl.create_default_context()
        self._upstream_tls.check_hostname = False
        self._upstream_tls.verify_mode = ssl.CERT_NONE
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.1)
        self.port = int(self._listener.getsockname()[1])
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._open: set[socket.socket] = set()
        self._names: dict[int, str] = {}
        self._suspended_until: float | None = None  # None: awake; inf: asleep, not waking
        self._wake_after_s = 0.0
        self._refusals = 0

    def url(self, base: URL, *, pooler: bool = False, **query: str) -> URL:
        """`base` (a Neon-like URL) reached through this proxy by endpoint host name."""
        host = f"{ENDPOINT}{'-pooler' if pooler else ''}.{DOMAIN}"
        return base.set(host=host, port=self.port).update_query_dict(
            {"hostaddr": "127.0.0.1", **query}
        )

    # --- control ---------------------------------------------------------------------------
    def start(self) -> None:
        self._spawn(self._accept_loop)

    def stop(self) -> None:
        self._stopping.set()
        self._listener.close()
        self.drop_connections()
        for thread in list(self._threads):
            thread.join(timeout=5)

    def suspend(self, wake_after_s: float) -> None:
        """Suspend the compute: cut every connection; the next attempt starts the wake-up."""
        with self._lock:
            self._suspended_until, self._wake_after_s = float("inf"), wake_after_s
        self.drop_connections()

    def reset(self) -> None:
        """Awake, granting permits, accepting clients without an endpoint ID."""
        with self._lock:
            self._suspended_until, self._refusals = None, 0
        self.require_endpoint = False

    def refuse_permits(self, count: int) -> None:
        """Answer the next `count` connections as Neon does under a connection storm."""
        with self._lock:
            self._refusals = count

    def drop_connections(self) -> int:
        """Cut every proxied connection without a goodbye, as a compute suspend does."""
        with self._lock:
            sockets, self._open = list(self._open), set()
        for sock in sockets:
            with suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        return len(sockets) // 2

    # --- per connection ----------------------------------------------------------------------
    def _spawn(self, target: object, *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)  # type: ignore[arg-type]
        self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        thread.start()

    def _accept_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self._spawn(self._serve, client)

    def _remember_server_name(
        self, sock: ssl.SSLObject, name: str | None, _context: ssl.SSLContext
    ) -> None:
        # The server-side socket's own SSLSocket is what `sock` is at run time; id() keys it.
        if name:
            self._names[id(sock)] = name

    def _serve(self, client: socket.socket) -> None:
        client.settimeout(10)
        upstream: socket.socket | None = None
        try:
            secure, arrival = self._negotiate(client)
            if secure is None:
                return
            _, payload = wire.read_startup(secure)
            parameters = wire.parse_parameters(payload)
            refusal, port = self._route(arrival, parameters)
            if refusal is not None:
                arrival.answer = refusal
                secure.sendall(wire.error_response(refusal))
                return
            upstream = self._connect_upstream(port, parameters)
            if upstream is None:
                arrival.answer = COULD_NOT_CONNECT
                secure.sendall(wire.error_response(COULD_NOT_CONNECT))
                return
            self._pipe(secure, upstream)
        except (OSError, ConnectionError, ssl.SSLError):
            pass
        finally:
            for sock in (client, upstream):
                if sock is not None:
                    with suppress(OSError):
                        sock.close()

    def _negotiate(self, client: socket.socket) -> tuple[ssl.SSLSocket | None, Arrival]:
        direct = client.recv(1, socket.MSG_PEEK) == bytes([wire.TLS_HANDSHAKE])
        while not direct:
            code, _ = wire.read_startup(client)
            if code == wire.SSL_REQUEST:
                client.sendall(b"S")
                break
            if code == wire.GSSENC_REQUEST:
                client.sendall(b"N")
                continue
            if code == wire.PROTOCOL_3:
                client.sendall(wire.error_response(INSECURE))
            return None, self._log(Arrival(direct_tls=False, server_name=None, answer=INSECURE))
        secure = self._tls.wrap_socket(client, server_side=True)
        name = self._names.pop(id(secure), None)
        return secure, self._log(Arrival(direct_tls=direct, server_name=name))

    def _log(self, arrival: Arrival) -> Arrival:
        with self._lock:
            self.arrivals.append(arrival)
        return arrival

    def _route(self, arrival: Arrival, parameters: dict[str, str]) -> tuple[str | None, int]:
        endpoint, options = wire.split_endpoint_option(parameters.pop("options", ""))
        if options:
            parameters["options"] = options
        if endpoint is None and arrival.server_name:
            endpoint = arrival.server_name.split(".")[0]
        arrival.endpoint = endpoint
        port = self.pooler_port if (endpoint or "").endswith("-pooler") else self.direct_port
        if endpoint is None and self.require_endpoint:
            return NO_ENDPOINT, port
        with self._lock:
            if self._refusals > 0:
                self._refusals -= 1
                return NO_PERMIT, port
            if self._suspended_until is not None:
                now = time.monotonic()
                if self._suspended_until == float("inf"):  # this attempt starts the wake-up
                    self._suspended_until = now + self._wake_after_s
                if now < self._suspended_until:
                    return COULD_NOT_CONNECT, port
                self._suspended_until = None
        return None, port

    def _connect_upstream(self, port: int, parameters: dict[str, str]) -> socket.socket | None:
        try:
            raw = socket.create_connection(("127.0.0.1", port), timeout=5)
            raw.sendall(wire.ssl_request())
            if wire.read_exactly(raw, 1) != b"S":
                raw.close()
                return None
            upstream = self._upstream_tls.wrap_socket(raw)
            upstream.sendall(wire.startup_message(parameters))
        except (OSError, ConnectionError):
            return None
        return upstream

    def _pipe(self, client: ssl.SSLSocket, upstream: socket.socket) -> None:
        with self._lock:
            self._open |= {client, upstream}
        peers = {client: upstream, upstream: client}
        try:
            while not self._stopping.is_set():
                ready: list[socket.socket] = [
                    s for s in peers if isinstance(s, ssl.SSLSocket) and s.pending()
                ]
                ready = ready or select.select(list(peers), [], [], 0.2)[0]
                for source in ready:
                    data = source.recv(65536)
                    if not data:
                        return
                    peers[source].sendall(data)
        finally:
            with self._lock:
                self._open -= {client, upstream}
