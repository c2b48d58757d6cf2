"""The grant's quotas (per minute and per day), counted across every process and node.

Windows are fixed and aligned to the clock (UTC minutes, UTC days: docs/adr/0011): the
allowed calls of any calendar minute can be counted back from the audit log, and the wait
until a refused request can pass is exact. A call takes its units (a batch's items) from
all of the grant's windows at once, or from none: a refused call costs nothing.

The counts live in a `Counter`: Redis when `SIMPUL_REDIS_URL` is set (one Lua script, one
round trip a call, on the connection of the `limits` library's Redis storage), otherwise
the database's `quota_counter` table. `MemoryCounter` counts in the process, for tests.
When the counter cannot be reached the call is refused (`QuotaUnavailable`, 503): a quota
that cannot be checked does not let data through.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from simpul.agreements.schemas import Quota
from simpul.errors import SimpulError

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from simpul.config import Settings

MINUTE, DAY = 60, 86_400
# After a failed round trip the counter is not asked again for this long: a Redis that is
# down refuses calls at once instead of holding each for its socket timeout.
_PAUSE_AFTER_FAILURE = 1.0


class QuotaUnavailable(SimpulError):
    """The quota counter could not be reached: the call is refused, not let through."""

    def __init__(self, store: str) -> None:
        super().__init__(
            "kuota_tidak_dapat_diperiksa",
            "Kuota perjanjian tidak dapat diperiksa saat ini; coba lagi sebentar lagi.",
            status=503,
        )
        self.store = store


@dataclass(frozen=True)
class Window:
    """One counting window of one grant for one account."""

    key: str  # the store's key, without its prefix
    limit: int
    ends: int  # epoch second at which the window closes


def windows(account_id: str, grant_key: str, quota: Quota, at: datetime) -> list[Window]:
    """The grant's windows that contain `at`. The braces keep one call's keys in one Redis
    Cluster slot, as its script needs."""
    epoch = at.timestamp()
    out: list[Window] = []
    for kind, limit, span in (("m", quota.per_minute, MINUTE), ("d", quota.per_day, DAY)):
        if limit:
            slot = int(epoch // span)
            key = f"{{{account_id}/{grant_key}}}:{kind}:{slot}"
            out.append(Window(key, limit, (slot + 1) * span))
    return out


def largest_call(quota: Quota) -> int | None:
    """The most units one call can ever take: a larger call is refused up front (it would
    never fit in a window), not told to retry."""
    limits = [n for n in (quota.per_minute, quota.per_day) if n]
    return min(limits) if limits else None


class Counter(Protocol):
    """Where the windows' counts live."""

    name: str

    def take(self, windows: Sequence[Window], units: int, now: float) -> Sequence[int] | None:
        """Add `units` to every window if each stays within its limit, atomically; None
        when taken, else the windows' current counts (nothing added)."""
        ...

    def ready(self) -> bool: ...

    def close(self) -> None: ...


class QuotaLimiter:
    """The quotas of one node: what `access.policy.decide` consumes from."""

    def __init__(self, counter: Counter | None = None) -> None:
        self.counter: Counter = counter if counter is not None else MemoryCounter()

    def consume(
        self, account_id: str, grant_key: str, quota: Quota, at: datetime, units: int = 1
    ) -> int | None:
        """Take `units` from every window; None if allowed, else the seconds after which
        the same request can pass (every full window has closed by then)."""
        wins = windows(account_id, grant_key, quota, at)
        if not wins:
            return None
        now = at.timestamp()
        counts = self.counter.take(wins, units, now)
        if counts is None:
            return None
        full = [w for w, used in zip(wins, counts, strict=True) if used + units > w.limit]
        # Counts move between the take and this read only by other calls; a window that
        # refused stays the one to wait for.
        closes = max(w.ends for w in full) if full else wins[0].ends
        return max(1, math.ceil(closes - now))

    def ready(self) -> bool:
        return self.counter.ready()

    def close(self) -> None:
        self.counter.close()


class MemoryCounter:
    """Counts in this process only: tests and a single-process development server."""

    name = "memory"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, tuple[int, int]] = {}  # key → (used, window end)

    def take(self, windows: Sequence[Window], units: int, now: float) -> Sequence[int] | None:
        with self._lock:
            used = [self._counts.get(w.key, (0, w.ends))[0] for w in windows]
            if any(u + units > w.limit for u, w in zip(used, windows, strict=True)):
                return used
            for u, w in zip(used, windows, strict=True):
                self._counts[w.key] = (u + units, w.ends)
            if len(self._counts) > 100_000:  # drop windows long closed
                self._counts = {k: v for k, v in self._counts.items() if v[1] > now}
        return None

    def ready(self) -> bool:
        return True

    def close(self) -> None:
        pass


# KEYS: the windows' keys; ARGV: units, then each window's limit and time to live. All
# windows or none: a refused call leaves every count as it was and gets them back.
_TAKE_LUA = """
local units = tonumber(ARGV[1])
local used = {}
local refused = false
for i, key in ipairs(KEYS) do
  used[i] = tonumber(redis.call('GET', key) or '0')
  if used[i] + units > tonumber(ARGV[2 * i]) then refused = true end
end
if refused then return {0, unpack(used)} end
for i, key in ipairs(KEYS) do
  redis.call('INCRBY', key, units)
  redis.call('EXPIRE', key, ARGV[2 * i + 1])
end
return {1}
"""


class RedisCounter:
    """Counts in Redis, shared by every process and node pointed at it. The connection is
    the `limits` library's Redis storage (URL schemes, valkey, key prefix, health check);
    the take itself is one Lua script, one round trip."""

    name = "redis"

    def __init__(self, url: str, prefix: str = "simpul:kuota", timeout: float = 0.5) -> None:
        from limits.storage import RedisStorage

        self._storage = RedisStorage(url, key_prefix=prefix, socket_timeout=timeout,
                                     socket_connect_timeout=timeout)  # fmt: skip
        self._errors = self._storage.base_exceptions
        self._redis: Any = self._storage.get_connection()
        self._script: Any = self._redis.register_script(_TAKE_LUA.encode())
        self._paused_until = 0.0

    def take(self, windows: Sequence[Window], units: int, now: float) -> Sequence[int] | None:
        if time.monotonic() < self._paused_until:
            raise QuotaUnavailable(self.name)
        keys = [self._storage.prefixed_key(w.key) for w in windows]
        args: list[int] = [units]
        for w in windows:
            # Kept one window past its close: a clock a little behind still finds it.
            args += [w.limit, max(1, math.ceil(w.ends - now)) + MINUTE]
        try:
            got = self._script(keys=keys, args=args)
        except self._errors:
            self._paused_until = time.monotonic() + _PAUSE_AFTER_FAILURE
            raise QuotaUnavailable(self.name) from None
        return None if int(got[0]) == 1 else [int(n) for n in got[1:]]

    def ready(self) -> bool:
        return bool(self._storage.check())

    def close(self) -> None:
        self._redis.close()


class DatabaseCounter:
    """Counts in the node's database (`quota_counter`), shared by every process using it:
    one short transaction a call, on an engine of its own whose commits do not wait for
    the disk (a counter lost to a power cut lets a few more calls through in that window;
    the audit log stays durable on its own engine)."""

    name = "database"

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._engine: Engine | None = None
        self._lock = threading.Lock()
        self._pruned = 0.0

    def _connect(self) -> Engine:
        with self._lock:
            if self._engine is None:
                from simpul.access.repository import counter_engine

                self._engine = counter_engine(self._settings)
            return self._engine

    def take(self, windows: Sequence[Window], units: int, now: float) -> Sequence[int] | None:
        from sqlalchemy.exc import SQLAlchemyError
        from sqlalchemy.orm import Session

        from simpul.access import repository

        engine = self._connect()
        rows = [(w.key, w.limit, w.ends) for w in windows]
        try:
            with Session(engine) as session:
                if repository.take_quota(session, rows, units):
                    if now - self._pruned > 600:  # closed windows, now and then
                        self._pruned = now
                        repository.prune_quota(session, int(now))
                    session.commit()
                    return None
                session.rollback()  # nothing added: all windows or none
                used = repository.quota_used(session, [w.key for w in windows])
                session.rollback()
        except SQLAlchemyError:
            raise QuotaUnavailable(self.name) from None
        return [used.get(w.key, 0) for w in windows]

    def ready(self) -> bool:
        try:
            self._connect()
            return True
        except Exception:
            return False

    def close(self) -> None:
        with self._lock:
            if self._engine is not None:
                self._engine.dispose()
                self._engine = None


def limiter_for(settings: Settings) -> QuotaLimiter | None:
    """The node's quotas as configured: None when switched off (load tests), Redis when a
    URL is set, else the database."""
    if not settings.quota_enabled:
        return None
    if settings.redis_url:
        return QuotaLimiter(RedisCounter(settings.redis_url, prefix=settings.redis_key_prefix))
    return QuotaLimiter(DatabaseCounter(settings))
