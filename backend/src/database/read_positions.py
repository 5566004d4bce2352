"""Read-your-writes by WAL position: where a replica must be before it may serve a read.

GitLab's database load balancer is the model (research.md, "Read replicas"):
after a write commits, the primary's WAL position (its insert position, which
every later commit only moves forward; `read_your_writes` says why not the
write position) is recorded; a replica may
serve a read only once it has replayed that position, else the primary
serves it. Never timers: a position is exact whatever the lag.

Positions are kept in two places:

- `ReadPosition`, one per session: every write the session's client was told
  of lies at or before it. A client carries it from request to request as a
  signed token (`PositionTokens`), so another worker or instance knows it too.
  A session with no position (no token, no write yet) reads from the primary:
  without one, nothing says where a read could not be stale.
- `WritePositions`, one per primary engine: this process's last write per
  user (`None` for accounts, whose writes todo reads also wait for, since
  deleting an account deletes its todos) and a short history of the
  primary's positions, whose entry from `max_lag_s` ago is the lag floor: a
  replica that has not replayed it lags by more than that.

`PINNED` stands for a position a write could not learn (the primary went
away right after the commit): reads go to the primary until a later write
learns a real position, which is past every earlier commit.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import threading
import time
from collections import deque
from collections.abc import Callable

PINNED = 2**64 - 1  # "read from the primary": the position of a write is unknown
_DOMAIN = b"todo-read-position\x00"  # the key signs nothing else, even if reused
_TAG_BYTES = 16
_TOKEN = re.compile(r"([0-9a-f]{16})\.([A-Za-z0-9_-]{22})")
_HISTORY_STEP_S = 0.05  # at most one lag-floor sample per step


def lsn_from_text(text: str) -> int:
    """PostgreSQL's `pg_lsn` text (`16/B374D848`) as a number."""
    high, _, low = text.partition("/")
    return (int(high, 16) << 32) | int(low, 16)


def lsn_text(lsn: int) -> str:
    """A number as `pg_lsn` text; only digits and a slash, so it can be inlined in SQL."""
    return f"{lsn >> 32:X}/{lsn & 0xFFFFFFFF:X}"


def later(old: int | None, new: int) -> int:
    """The position after learning `new`: the later one, except that a pin yields to news."""
    if old is None or old == PINNED:
        return new
    return max(old, new)  # a new pin is the largest position there is


class ReadPosition:
    """A session's client position; `on_change` hears each new token (an HTTP cookie)."""

    __slots__ = ("lsn", "on_change")

    def __init__(self, lsn: int | None = None, on_change: Callable[[int], None] | None = None):
        self.lsn = lsn
        self.on_change = on_change

    def advance(self, lsn: int) -> None:
        new = later(self.lsn, lsn)
        if new != self.lsn:
            self.lsn = new
            if self.on_change is not None:
                self.on_change(new)


class PositionTokens:
    """`<position, 16 hex digits>.<HMAC-SHA256 tag, 128 bits, base64url>`.

    A client can drop or keep a token, not make one: an altered, truncated or
    foreign token reads as no token, which sends its reads to the primary.
    Replaying an older token of its own is the most a client can do, and it
    only lowers the bar for its own reads; no token opens another user's rows
    (row security and the `user_id` filter decide that, wherever a read runs).
    """

    def __init__(self, key: bytes) -> None:
        self._key = key

    def issue(self, lsn: int) -> str:
        return f"{lsn:016x}.{self._tag(lsn)}"

    def read(self, token: str | None) -> int | None:
        """The position a token carries; None for anything this service did not issue."""
        match = _TOKEN.fullmatch(token) if isinstance(token, str) else None
        if match is None:
            return None
        lsn = int(match[1], 16)
        return lsn if hmac.compare_digest(match[2], self._tag(lsn)) else None

    def _tag(self, lsn: int) -> str:
        digest = hmac.digest(self._key, _DOMAIN + lsn.to_bytes(8, "big"), hashlib.sha256)
        return base64.urlsafe_b64encode(digest[:_TAG_BYTES]).rstrip(b"=").decode()


class WritePositions:
    """This process's write positions per user and the primary's recent positions (thread-safe)."""

    def __init__(self, max_lag_s: float) -> None:
        self.max_lag_s = max_lag_s
        self._lock = threading.Lock()
        self._by_user: dict[int | None, int] = {}
        self._history: deque[tuple[float, int]] = deque()  # (monotonic time, primary position)
        self._floor: int | None = None
        self._pinned: set[int | None] = set()  # users whose last write has no known position
        self._pruned_at = self._step_opened = time.monotonic()

    def record(self, user_id: int | None, lsn: int) -> None:
        """`user_id` wrote, and the primary was at `lsn` after the commit."""
        now = time.monotonic()
        with self._lock:
            if lsn == PINNED:
                self._by_user[user_id] = PINNED
                self._pinned.add(user_id)
                return
            for pinned in self._pinned:  # any later position is past their writes too
                self._by_user[pinned] = lsn
            self._pinned.clear()
            self._by_user[user_id] = later(self._by_user.get(user_id), lsn)
            if self._history and now - self._step_opened < _HISTORY_STEP_S:
                self._history[-1] = (now, max(lsn, self._history[-1][1]))  # later, never earlier
            else:
                self._history.append((now, lsn))
                self._step_opened = now
            self._advance_floor(now)

    def required(self, user_id: int | None, *, todos: bool) -> int:
        """The position a read of `user_id`'s todos (or of accounts) must see: 0 if none known."""
        with self._lock:
            accounts = self._by_user.get(None, 0)
            if not todos:
                return accounts
            mine = self._by_user.get(user_id, 0) if user_id is not None else 0
            return PINNED if PINNED in (accounts, mine) else max(accounts, mine)

    def lag_floor(self) -> int | None:
        """Where the primary was `max_lag_s` ago, as far as this process saw; None if unknown."""
        with self._lock:
            self._advance_floor(time.monotonic())
            return self._floor

    def _advance_floor(self, now: float) -> None:
        """Move the floor to the newest sample older than `max_lag_s`; now and then forget
        the users whose last write it passed (a replica in use has replayed them)."""
        cutoff = now - self.max_lag_s
        while self._history and self._history[0][0] <= cutoff:
            self._floor = self._history.popleft()[1]
        if self._floor is not None and now - self._pruned_at > self.max_lag_s:
            floor, self._pruned_at = self._floor, now
            self._by_user = {user: lsn for user, lsn in self._by_user.items() if lsn > floor}
