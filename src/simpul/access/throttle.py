"""Failed sign-ins throttled per (User ID, source address), with exponential backoff.

Replaces the account lock-out, which let anyone lock anyone out with five requests and
told an existing account from an unknown one. Now:

- Each (name, source) pair may fail `FREE_FAILURES` times; every further failure blocks
  that pair for `BASE_DELAY · 2^(n − FREE_FAILURES)`, at most `MAX_DELAY`. A quiet
  `FORGET_AFTER` starts the count again; a success clears it. Other sources are untouched:
  the rightful user signs in from their own address while someone else is blocked.
- The account-wide ceiling (`source = '*'`) counts failures from every source. Past
  `ACCOUNT_CEILING` it blocks, with the same backoff, every source that has *not* signed in
  to the name successfully within `KNOWN_SOURCE_FOR` — a spread guessing attack is slowed
  while a user's known address still gets in.
- The state is keyed by the name as typed (lower-cased), so an unknown name is throttled
  exactly as an existing one: a throttled attempt answers 429 the same way for both, after
  the same argon2 work (`simpul.access.auth.verify_password`).

The state lives in the database (table `login_throttle`), so every process and node sees
the same counts.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from simpul.access.repository import ThrottleRepository

FREE_FAILURES = 5
BASE_DELAY = timedelta(seconds=30)
MAX_DELAY = timedelta(minutes=15)
FORGET_AFTER = timedelta(hours=24)
ACCOUNT_CEILING = 100
KNOWN_SOURCE_FOR = timedelta(days=30)
ANY_SOURCE = "*"
# A sign-in with no network source (a command on the node itself).
LOCAL_SOURCE = "lokal"
# Writing the last good sign-in of a pair on every success would put a write on each call.
SUCCESS_RESOLUTION = timedelta(hours=1)


@dataclass(frozen=True)
class Throttled:
    """A pair (or the whole name, `source == '*'`) that has just become blocked."""

    username: str
    source: str
    failures: int
    until: datetime


def key(username: str) -> str:
    """The name as the table keeps it: a name no account could have (NUL, a lone
    surrogate, too long) is kept as its digest, so it is throttled like any other."""
    name = username.strip().lower()
    if len(name) <= 64 and "\x00" not in name and name.isprintable():
        try:
            name.encode("utf-8")
            return name
        except UnicodeEncodeError:
            pass
    raw = name.encode("utf-8", "surrogatepass")
    return "#" + hashlib.sha256(raw).hexdigest()[:63]


def source_key(source: str | None) -> str:
    return (source or LOCAL_SOURCE)[:64]


def delay_for(failures: int, free: int) -> timedelta | None:
    """The block after the `failures`-th failure, or None while still free."""
    if failures < free:
        return None
    step = min(failures - free, 20)  # 2^20 · 30 s is far past MAX_DELAY already
    delay: timedelta = BASE_DELAY * (2**step)
    return min(delay, MAX_DELAY)


def blocked_until(session: Session, username: str, source: str, now: datetime) -> datetime | None:
    """When this pair may try again, or None when it may try now."""
    repo = ThrottleRepository(session)
    pair = repo.get(username, source)
    if pair is not None and pair.blocked_until is not None and pair.blocked_until > now:
        return pair.blocked_until
    ceiling = repo.get(username, ANY_SOURCE)
    if ceiling is None or ceiling.blocked_until is None or ceiling.blocked_until <= now:
        return None
    seen = pair.last_success_at if pair is not None else None
    if seen is not None and now - seen <= KNOWN_SOURCE_FOR:
        return None  # a source this name signed in from lately is spared the ceiling
    return ceiling.blocked_until


def record_failure(session: Session, username: str, source: str, now: datetime) -> list[Throttled]:
    """Count a failure for the pair and the ceiling; the blocks this failure started."""
    repo = ThrottleRepository(session)
    started: list[Throttled] = []
    for src, free in ((source, FREE_FAILURES), (ANY_SOURCE, ACCOUNT_CEILING)):
        failures, before = repo.count_failure(username, src, now, now - FORGET_AFTER)
        delay = delay_for(failures, free)
        if delay is None:
            continue
        until = now + delay
        repo.block(username, src, until)
        if before is None or before <= now:
            started.append(Throttled(username, src, failures, until))
    return started


def record_success(session: Session, username: str, source: str, now: datetime) -> None:
    """Clear the pair's failures and remember it as a known source of the name."""
    repo = ThrottleRepository(session)
    pair = repo.get(username, source)
    if (
        pair is None
        or pair.failures
        or pair.blocked_until is not None
        or pair.last_success_at is None
        or now - pair.last_success_at >= SUCCESS_RESOLUTION
    ):
        repo.record_success(username, source, now)


def clear(session: Session, username: str, source: str | None = None) -> int:
    """An admin lifts the blocks on a name (every source, or one): how many pairs."""
    return ThrottleRepository(session).clear(key(username), source)
