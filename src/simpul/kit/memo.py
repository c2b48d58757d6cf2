"""A per-process memo of governance data (token principals, agreements, grants) that is
exact, not merely fresh enough.

Every committed change to those tables bumps `governance_epoch.n` by database trigger
(migration 0004_governance_epoch). A read transaction that carries a `GovernanceCache` in
`session.info` reads the counter once; if it moved, the memo is dropped before any entry
is used. A call therefore sees every governance change committed before its transaction
began — a revocation or suspension takes effect on the next request, on every node —
while the hot path costs one single-row read instead of several joins and JSON parses.

Only read-only transactions use it (see `Runtime.read_transaction`): a transaction that
itself writes governance data must see its own writes, so it takes the uncached path.
"""

from __future__ import annotations

import hmac
import secrets
import threading
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from sqlalchemy.orm import Session

from simpul.kit.repository import driver_fetchone

T = TypeVar("T")
SESSION_KEY = "governance_cache"
EPOCH_SQL = "SELECT n FROM governance_epoch WHERE id = 1"
_MEMO_KEY = "_governance_memo"


class GovernanceCache:
    def __init__(self, max_entries: int = 100_000) -> None:
        self._lock = threading.Lock()
        self._epoch: int | None = None
        self._memo: dict[Hashable, Any] = {}
        self.max_entries = max_entries
        self.hits = 0
        self.misses = 0
        # Keys for remembered HTTP Basic passwords are keyed with a secret that lives and
        # dies with this process, so a memo key is worthless anywhere else.
        self._pepper = secrets.token_bytes(32)

    def credential_key(self, username: str, password: str) -> tuple[str, str, bytes]:
        mac = hmac.new(self._pepper, password.encode("utf-8", "surrogatepass"), "sha256")
        return ("basic", username, mac.digest())

    def memo_for(self, session: Session) -> dict[Hashable, Any]:
        """The memo valid for this transaction's snapshot (read once per transaction)."""
        txn = session.get_transaction()
        held = session.info.get(_MEMO_KEY)
        if held is not None and held[0] is txn:
            return held[1]  # type: ignore[no-any-return]
        row = driver_fetchone(session, EPOCH_SQL, ())
        assert row is not None, "governance_epoch has its row from migration 0004"
        memo = self._memo_at(int(row[0]))
        session.info[_MEMO_KEY] = (session.get_transaction(), memo)
        return memo

    def pin(self, session: Session, epoch: int) -> None:
        """Serve `session` from the memo of `epoch`, which the caller read itself (the web
        services' hot path reads it in the same statement as the registry record), until
        the session begins a transaction of its own: a memo miss that has to load from
        the database then reads the counter again, as `memo_for` always does."""
        if session.get_transaction() is not None:
            raise RuntimeError("pin() before the session's first statement")
        session.info[_MEMO_KEY] = (None, self._memo_at(epoch))

    def unpin(self, session: Session) -> None:
        """Forget the memo pinned or read for `session`, so that the next call using it reads
        or pins its own (a session kept for reuse by the web services' hot path)."""
        session.info.pop(_MEMO_KEY, None)

    def _memo_at(self, epoch: int) -> dict[Hashable, Any]:
        with self._lock:
            if epoch != self._epoch or len(self._memo) >= self.max_entries:
                self._memo = {}
                self._epoch = epoch
            return self._memo

    def clear(self) -> None:
        with self._lock:
            self._memo = {}
            self._epoch = None


def memoized(session: Session, key: Hashable, load: Callable[[], T]) -> T:
    """`load()` once per governance epoch when `session` is a cached read transaction;
    plain `load()` otherwise. Values must be immutable or treated as such by callers."""
    cache = session.info.get(SESSION_KEY)
    if cache is None:
        return load()
    assert isinstance(cache, GovernanceCache)
    memo = cache.memo_for(session)
    try:
        value: T = memo[key]
        cache.hits += 1
        return value
    except KeyError:
        cache.misses += 1
        value = load()
        memo[key] = value
        return value


def current_memo(session: Session) -> tuple[GovernanceCache, dict[Hashable, Any]] | None:
    """The cache and this transaction's memo, when `session` is a cached read session."""
    cache = session.info.get(SESSION_KEY)
    if cache is None:
        return None
    assert isinstance(cache, GovernanceCache)
    return cache, cache.memo_for(session)
