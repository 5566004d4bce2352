"""A TCP proxy that counts round trips and can add network delay, for tests and the benchmark.

It stands for the network between a service and Neon: what a user feels is
how many times the client sends and then waits for the server's answer.
There is no `tc netem` here, so the proxy measures that directly:

- an *exchange* (a round trip) begins each time the client sends after the
  server last spoke (or for the first time); bytes the client sends while
  still waiting on nothing from the server belong to the same exchange, so a
  pipelined or multi-statement message is one exchange however many TCP
  segments carry it;
- with `delay_s`, the first bytes of every exchange are held that long before
  they are forwarded, so the wall time of a request grows by `delay_s` per
  round trip, as a longer network path would make it.

It forwards bytes as they are (TLS included) and never parses them. Every
connection it accepted is closed by `stop()`, which a `with` block calls on
every way out.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from types import TracebackType


class RoundTripProxy:
    """Listens on 127.0.0.1 (an ephemeral port) and forwards to `target_host:target_port`."""

    def __init__(self, target_host: str, target_port: int, *, delay_s: float = 0.0) -> None:
        self.target = (target_host, target_port)
        self.delay_s = delay_s
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._exchanges = 0
        self._sockets: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self._stopping = False

    @property
    def exchanges(self) -> int:
        """Round trips counted since the proxy started or was last `reset`."""
        with self._lock:
            return self._exchanges

    def reset(self) -> None:
        with self._lock:
            self._exchanges = 0

    @contextmanager
    def counting(self) -> Iterator[list[int]]:
        """Count the round trips of the block: the list holds one number after it ends."""
        counted: list[int] = []
        self.reset()
        yield counted
        counted.append(self.exchanges)

    def start(self) -> RoundTripProxy:
        self._spawn(self._accept_loop)
        return self

    def stop(self) -> None:
        self._stopping = True
        with suppress(OSError):  # wakes the accepting thread, which close() alone does not
            self._listener.shutdown(socket.SHUT_RDWR)
        with suppress(OSError):
            self._listener.close()
        with self._lock:
            sockets = list(self._sockets)
        for sock in sockets:
            with suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            with suppress(OSError):
                sock.close()
        for thread in self._threads:
            thread.join(timeout=5)

    def drop_connections(self) -> None:
        """Close every open connection (both sides), as a pooler restart or a suspend does."""
        with self._lock:
            sockets, self._sockets = list(self._sockets), []
        for sock in sockets:
            with suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            with suppress(OSError):
                sock.close()

    def __enter__(self) -> RoundTripProxy:
        return self.start()

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _value: BaseException | None,
        _traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def _spawn(self, target: object, *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)  # type: ignore[arg-type]  # any callable
        self._threads.append(thread)
        thread.start()

    def _accept_loop(self) -> None:
        while not self._stopping:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.target, timeout=10)
            except OSError:
                client.close()
                continue
            server.settimeout(None)
            for sock in (client, server):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                self._sockets += [client, server]
            # True while the client has spoken last (its exchange is under way).
            state = {"client_spoke_last": False}
            self._spawn(self._pump, client, server, state, True)
            self._spawn(self._pump, server, client, state, False)

    def _pump(
        self, source: socket.socket, sink: socket.socket, state: dict[str, bool], upstream: bool
    ) -> None:
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                if upstream:
                    with self._lock:
                        starts_exchange = not state["client_spoke_last"]
                        state["client_spoke_last"] = True
                        if starts_exchange:
                            self._exchanges += 1
                    if starts_exchange and self.delay_s:
                        time.sleep(self.delay_s)
                else:
                    with self._lock:
                        state["client_spoke_last"] = False
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
