"""Who is calling: the hot path the policy decision starts from, and client tokens.

Bearer tokens resolve with one indexed query (token, account, institution, agreements),
memoised on the web services' read path per governance epoch (simpul.kit.memo):
a revocation committed before a call is always seen by that call, on every node.
HTTP Basic costs one argon2 verification for users.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from pydantic import SecretStr
from sqlalchemy.orm import Session

from simpul.access import passwords as pw
from simpul.access import throttle, totp
from simpul.access.models import ClientToken
from simpul.access.repository import AccountRepository, TokenRepository
from simpul.access.schemas import AccountKind, AccountStatus, IssuedToken, Principal
from simpul.config import Settings
from simpul.errors import InvalidInput, NotFound, SimpulError
from simpul.kit.clock import Clock, SystemClock
from simpul.kit.memo import current_memo, memoized

SYSTEM_CLOCK: Clock = SystemClock()

# Short-lived bearer tokens: revocation is immediate anyway (every call is looked up), so
# the lifetime only bounds how long a leaked token is useful.
TOKEN_TTL = timedelta(minutes=15)
MAX_TOKEN_TTL = timedelta(hours=12)
# Writing last-login on every HTTP Basic call would put a write on the hot path.
LAST_LOGIN_RESOLUTION = timedelta(minutes=1)
# Longer inputs are rejected before hashing: no real credential is this long.
MAX_CREDENTIAL_LENGTH = 1024


def _invalid_credentials() -> SimpulError:
    # One message for unknown user and wrong password: the answer reveals neither.
    return SimpulError(
        "kredensial_tidak_valid", "User ID atau kata sandi/token tidak valid.", status=401
    )


def _revoked(detail: str = "Akun telah dicabut.") -> SimpulError:
    return SimpulError("akun_dicabut", detail, status=401)


def _principal(rows: Sequence[Any], token_expires_at: datetime | None = None) -> Principal:
    first = rows[0]
    if first.status != AccountStatus.AKTIF:
        raise _revoked()
    if first.data_user is not None and first.data_user_status != AccountStatus.AKTIF:
        raise _revoked("Pengguna Data yang dilayani operator ini telah dicabut.")
    return Principal(
        account_id=first.id,
        username=first.username,
        kind=first.kind,
        role=first.role,
        institution=first.institution_code,
        access_cidrs=tuple(first.access_cidrs),
        agreement_ids=frozenset(r.agreement_id for r in rows if r.agreement_id is not None),
        status=AccountStatus.AKTIF,
        on_behalf_of=first.data_user,
        token_expires_at=token_expires_at,
    )


def principal_for_account(session: Session, account_id: str) -> Principal:
    """The account as it stands now, for work that runs later on its behalf (a matching job
    re-checks its owner when it runs). Raises 401 `akun_dicabut` for a revoked account."""
    rows = AccountRepository(session).principal_rows_for_account(account_id)
    if not rows:
        raise _revoked("Akun tidak ditemukan.")
    return _principal(rows)


def account_principal(session: Session, username: str) -> Principal:
    """The principal of an account named by username, for commands run on its behalf on the
    hub (CLI), or of the account a node keeps for a peer node (every call of the federation
    listener: memoised per governance epoch, as a revocation or a binding starts a new
    one). Raises 404 for an unknown account, 401 for a revoked one."""
    name = username.strip().lower()

    def load() -> Principal:
        acct = AccountRepository(session).by_username(name)
        if acct is None:
            raise NotFound("akun_tidak_ditemukan", f"Akun {username!r} tidak ditemukan.")
        return principal_for_account(session, acct.id)

    return memoized(session, ("account_principal", name), load)


def session_principal(session: Session, account_id: str) -> tuple[Principal, str | None] | None:
    """The account of a portal session as it stands now, with its full name, checked as
    every API call is (`_principal`); None when the account row is gone. Raises 401
    `akun_dicabut` for a revoked account (or the revoked data user an operator serves)."""
    repo = AccountRepository(session)
    rows = repo.principal_rows_for_account(account_id)
    if not rows:
        return None
    acct = repo.get(account_id)
    return _principal(rows), acct.full_name if acct else None


def authenticate_token(session: Session, token: str, *, clock: Clock = SYSTEM_CLOCK) -> Principal:
    """One indexed query by the token's sha256: token, account, institution, agreements.

    A revocation committed before this call is always seen (the memo is exact per epoch)."""
    if not token or len(token) > MAX_CREDENTIAL_LENGTH:
        raise _invalid_credentials()
    digest = pw.digest(token)
    rows = memoized(
        session,
        ("token", digest),
        lambda: tuple(AccountRepository(session).principal_rows_for_token(digest)),
    )
    if not rows:
        raise _invalid_credentials()
    first = rows[0]
    if first.status != AccountStatus.AKTIF:
        raise _revoked()
    if first.revoked_at is not None:
        raise _invalid_credentials()
    if clock.now() >= first.expires_at:
        raise SimpulError(
            "token_kedaluwarsa", "Token telah kedaluwarsa; minta token baru.", status=401
        )
    # Built from the memoised rows of the same epoch, so it may be memoised beside them.
    return memoized(
        session, ("token_principal", digest), lambda: _principal(rows, first.expires_at)
    )


OnThrottled = Callable[[throttle.Throttled], None]


def authenticate_password(
    session: Session,
    username: str,
    password: str,
    *,
    clock: Clock = SYSTEM_CLOCK,
    passwords: pw.Passwords | None = None,
    source: str | None = None,
    on_throttled: OnThrottled | None = None,
) -> Principal:
    """See `verify_password`; returns only the principal."""
    return verify_password(
        session, username, password, clock=clock, passwords=passwords, source=source,
        on_throttled=on_throttled,
    )[0]  # fmt: skip


def _throttled(until: datetime, now: datetime) -> SimpulError:
    # The same for an unknown name: the throttle is keyed by the name as typed.
    wait = max(1, int((until - now).total_seconds() + 0.999))
    return SimpulError(
        "percobaan_masuk_dibatasi",
        "Terlalu banyak percobaan masuk yang gagal untuk User ID ini dari alamat ini; "
        f"coba lagi dalam {wait} detik.",
        status=429,
        coba_lagi_detik=wait,
    )


def verify_password(
    session: Session,
    username: str,
    password: str,
    *,
    clock: Clock = SYSTEM_CLOCK,
    passwords: pw.Passwords | None = None,
    source: str | None = None,
    on_throttled: OnThrottled | None = None,
) -> tuple[Principal, str]:
    """User ID + password (portal, HTTP Basic on web services; PKS 003 Pasal 2(1)f).

    Users: argon2 on every attempt — unknown name, wrong password, throttled pair alike —
    so neither the answer nor its timing tells whether the account exists. Failures are
    throttled per (name, `source`) with backoff (simpul.access.throttle); a throttled
    attempt answers 429 `percobaan_masuk_dibatasi` whatever the password, for an unknown
    name too. `on_throttled` is told of each block that begins (the caller audits it in
    this session). Clients (client_id + secret): sha256, no throttle (a 256-bit secret
    cannot be guessed, and a block would only let anyone block the client).

    A failure is counted in `session` before the error is raised: the caller must still
    commit (as it does for the deny audit record), or the throttle never engages.
    """
    hasher = passwords or pw.default()
    now = clock.now()
    name = username.strip().lower()
    repo = AccountRepository(session)
    acct = repo.by_username(name) if len(name) <= 64 else None
    if acct is not None and acct.kind == AccountKind.CLIENT:
        if len(password) > MAX_CREDENTIAL_LENGTH or not pw.verify_client_secret(
            acct.secret_hash, password
        ):
            raise _invalid_credentials()
        return _principal(repo.principal_rows_for_account(acct.id)), acct.secret_hash
    who, src = throttle.key(name), throttle.source_key(source)
    blocked = throttle.blocked_until(session, who, src, now)
    if acct is None or len(password) > MAX_CREDENTIAL_LENGTH:
        hasher.burn(password[:MAX_CREDENTIAL_LENGTH])
        ok = False
    else:
        ok = hasher.verify(acct.secret_hash, password)
    if blocked is not None:
        raise _throttled(blocked, now)
    if not ok or acct is None:
        for started in throttle.record_failure(session, who, src, now):
            if acct is not None:
                # Moves the governance epoch (its trigger watches locked_until): every
                # process forgets the passwords it remembers for this account, so a
                # throttled source cannot test a guess against a remembered one.
                repo.record_success(acct.id, {"locked_until": started.until})
            if on_throttled is not None:
                on_throttled(started)
        raise _invalid_credentials()
    if acct.status != AccountStatus.AKTIF:
        raise _revoked()
    principal = _principal(repo.principal_rows_for_account(acct.id))
    throttle.record_success(session, who, src, now)
    updates: dict[str, Any] = {}
    if acct.failed_logins or acct.locked_until is not None:
        updates |= {"failed_logins": 0, "locked_until": None}
    if acct.last_login_at is None or now - acct.last_login_at >= LAST_LOGIN_RESOLUTION:
        updates["last_login_at"] = now
    verified = acct.secret_hash
    if hasher.needs_rehash(acct.secret_hash):
        updates["secret_hash"] = verified = hasher.hash(password)
    repo.record_success(acct.id, updates)
    return principal, verified


def verify_second_factor(
    session: Session,
    settings: Settings,
    principal: Principal,
    code: str,
    *,
    clock: Clock = SYSTEM_CLOCK,
    source: str | None = None,
    on_throttled: OnThrottled | None = None,
) -> totp.Used:
    """The second step of a portal sign-in: a TOTP code or a recovery code
    (simpul.access.totp). A wrong code counts as a failed sign-in of the (name, source)
    pair, so guessing codes is throttled like guessing passwords; a throttled pair answers
    429 whatever the code. Commit on failure, as after `verify_password`."""
    now = clock.now()
    who, src = throttle.key(principal.username), throttle.source_key(source)
    blocked = throttle.blocked_until(session, who, src, now)
    if blocked is not None:
        raise _throttled(blocked, now)
    used = totp.check(session, settings, principal.account_id, code[:64], clock=clock)
    if used is None:
        for started in throttle.record_failure(session, who, src, now):
            if on_throttled is not None:
                on_throttled(started)
        raise SimpulError(
            "kode_faktor_kedua_salah", "Kode faktor kedua salah atau sudah dipakai.", status=401
        )
    throttle.record_success(session, who, src, now)
    return used


def _memo_name(name: str, source: str | None) -> str:
    # Per source: a pair that is throttled never reaches a password remembered for another
    # source (a correct guess would otherwise answer at memo speed past the throttle).
    return f"{name}\n{throttle.source_key(source)}"


def remembered_password(
    session: Session,
    username: str,
    password: str,
    *,
    clock: Clock = SYSTEM_CLOCK,
    source: str | None = None,
) -> Principal | None:
    """A User ID and password this process verified earlier in the same governance epoch,
    or None (then `verify_password` must run). Only in cached read sessions.

    A change of password, lock-out, revocation or binding moves the epoch (migration
    0004_governance_epoch), which forgets every remembered password: the next call pays
    the full argon2 check and its lock-out rules again."""
    if len(password) > MAX_CREDENTIAL_LENGTH or len(username) > 64:
        return None
    found = current_memo(session)
    if found is None:
        return None
    cache, memo = found
    rows = memo.get(cache.credential_key(_memo_name(username.strip().lower(), source), password))
    if rows is None:
        return None
    if rows[0].locked_until is not None and rows[0].locked_until > clock.now():
        return None  # let the full check answer with the lock-out
    return _principal(rows)


def remember_password(
    session: Session,
    username: str,
    password: str,
    verified_hash: str,
    *,
    clock: Clock,
    source: str | None = None,
) -> None:
    """After `verify_password` succeeded: remember it for this governance epoch, but only
    if the account still holds the very hash that was verified (read after the epoch, so a
    password changed meanwhile is never remembered under the new epoch)."""
    found = current_memo(session)
    if found is None:
        return
    cache, memo = found
    name = username.strip().lower()
    repo = AccountRepository(session)
    acct = repo.by_username(name)
    if acct is None or acct.secret_hash != verified_hash or acct.status != AccountStatus.AKTIF:
        return
    if acct.locked_until is not None and acct.locked_until > clock.now():
        return
    rows = tuple(repo.principal_rows_for_account(acct.id, with_lock=True))
    memo[cache.credential_key(_memo_name(name, source), password)] = rows


def resolve_principal(
    session: Session,
    *,
    bearer: str | None = None,
    basic: tuple[str, str] | None = None,
    clock: Clock = SYSTEM_CLOCK,
    passwords: pw.Passwords | None = None,
    source: str | None = None,
    on_throttled: OnThrottled | None = None,
) -> Principal:
    """Who is calling: exactly one of a bearer token or HTTP Basic (User ID, password).

    Raises 401 `kredensial_tidak_ada`, `kredensial_tidak_valid`, `akun_dicabut`,
    `token_kedaluwarsa`, or 429 `percobaan_masuk_dibatasi`. See `verify_password` on
    committing.
    """
    if bearer is not None and basic is not None:
        raise SimpulError(
            "kredensial_tidak_valid", "Gunakan satu jenis kredensial saja.", status=401
        )
    if bearer is not None:
        return authenticate_token(session, bearer, clock=clock)
    if basic is not None:
        remembered = remembered_password(session, *basic, clock=clock, source=source)
        if remembered is not None:
            return remembered
        return authenticate_password(
            session, *basic, clock=clock, passwords=passwords, source=source,
            on_throttled=on_throttled,
        )  # fmt: skip
    raise SimpulError(
        "kredensial_tidak_ada",
        "Kredensial wajib: token Bearer atau User ID dan kata sandi (HTTP Basic).",
        status=401,
    )


def issue_token(
    session: Session,
    client_id: str,
    client_secret: str,
    *,
    clock: Clock = SYSTEM_CLOCK,
    ttl: timedelta = TOKEN_TTL,
) -> IssuedToken:
    """OAuth-style client credentials: a random opaque token, stored only as its sha256."""
    if not timedelta(0) < ttl <= MAX_TOKEN_TTL:
        raise InvalidInput("masa_berlaku_tidak_valid", "Masa berlaku token di luar batas.")
    name = client_id.strip().lower()
    acct = AccountRepository(session).by_username(name) if len(name) <= 64 else None
    if (
        acct is None
        or acct.kind != AccountKind.CLIENT
        or len(client_secret) > MAX_CREDENTIAL_LENGTH
        or not pw.verify_client_secret(acct.secret_hash, client_secret)
    ):
        raise _invalid_credentials()
    if acct.status != AccountStatus.AKTIF:
        raise _revoked()
    now = clock.now()
    token = pw.generate_token()
    TokenRepository(session).add(
        ClientToken(
            token_hash=pw.digest(token), account_id=acct.id, issued_at=now, expires_at=now + ttl
        )
    )
    return IssuedToken(
        access_token=SecretStr(token),
        expires_at=now + ttl,
        expires_in=int(ttl.total_seconds()),
    )


def revoke_token(session: Session, token: str, *, clock: Clock = SYSTEM_CLOCK) -> bool:
    """RFC 7009-style: revoking an unknown or already revoked token is not an error."""
    return TokenRepository(session).revoke(pw.digest(token), clock.now())


def purge_expired_tokens(
    session: Session, *, clock: Clock = SYSTEM_CLOCK, keep: timedelta = timedelta(days=1)
) -> int:
    """Delete tokens that expired more than `keep` ago (they can never authenticate)."""
    return TokenRepository(session).purge_expired(clock.now() - keep)
