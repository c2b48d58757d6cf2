"""All access queries. The session and its transaction belong to the caller."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, and_, case, delete, func, literal, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, aliased

from simpul.access.models import (
    Account,
    AccountAgreement,
    ClientToken,
    Device,
    Institution,
    InstitutionNameHistory,
    LoginThrottle,
    QuotaCounter,
    RecoveryCode,
    SecondFactor,
    UtcDateTime,
)
from simpul.config import Settings
from simpul.db import make_engine
from simpul.kit.repository import Repository, driver_fetchone

_DataUser = aliased(Account, name="data_user")


class InstitutionRepository(Repository):
    def get(self, code: str) -> Institution | None:
        return self.session.get(Institution, code)

    def all(self) -> Sequence[Institution]:
        return self.session.execute(select(Institution).order_by(Institution.code)).scalars().all()

    def add(self, institution: Institution) -> None:
        self.session.add(institution)
        self.session.flush()

    def add_name_change(self, change: InstitutionNameHistory) -> None:
        self.session.add(change)
        self.session.flush()

    def name_history(self, code: str) -> Sequence[InstitutionNameHistory]:
        return (
            self.session.execute(
                select(InstitutionNameHistory)
                .where(InstitutionNameHistory.institution_code == code)
                .order_by(InstitutionNameHistory.changed_at, InstitutionNameHistory.id)
            )
            .scalars()
            .all()
        )


def _encodable(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


class AccountRepository(Repository):
    def get(self, account_id: str) -> Account | None:
        return self.session.get(Account, account_id)

    def by_username(self, username: str) -> Account | None:
        # No account can be named with a NUL or a lone surrogate, and PostgreSQL refuses
        # to compare with them: a hostile client_id or User ID is simply unknown.
        if "\x00" in username or (not username.isascii() and not _encodable(username)):
            return None
        return self.session.execute(
            select(Account).where(Account.username == username)
        ).scalar_one_or_none()

    def add(self, account: Account) -> None:
        self.session.add(account)
        self.session.flush()

    def search(
        self, institution: str | None = None, role: str | None = None
    ) -> Sequence[Row[Account, str | None]]:
        """Accounts with their data user's username (for operators)."""
        stmt = (
            select(Account, _DataUser.username)
            .outerjoin(_DataUser, _DataUser.id == Account.operator_of)
            .order_by(Account.institution_code, Account.username)
        )
        if institution is not None:
            stmt = stmt.where(Account.institution_code == institution)
        if role is not None:
            stmt = stmt.where(Account.role == role)
        return self.session.execute(stmt).all()

    def username_of(self, account_id: str) -> str | None:
        return self.session.execute(
            select(Account.username).where(Account.id == account_id)
        ).scalar_one_or_none()

    def agreements(self, account_ids: Iterable[str]) -> dict[str, list[str]]:
        ids = list(account_ids)
        found: dict[str, list[str]] = defaultdict(list)
        if not ids:
            return found
        rows = self.session.execute(
            select(AccountAgreement.account_id, AccountAgreement.agreement_id)
            .where(AccountAgreement.account_id.in_(ids))
            .order_by(AccountAgreement.agreement_id)
        )
        for account_id, agreement_id in rows:
            found[account_id].append(agreement_id)
        return found

    def bind(self, account_id: str, agreement_id: str, at: datetime, by: str) -> bool:
        """Bind once; False when the binding already existed."""
        if self.session.get(AccountAgreement, (account_id, agreement_id)) is not None:
            return False
        self.session.add(
            AccountAgreement(
                account_id=account_id, agreement_id=agreement_id, bound_at=at, bound_by=by
            )
        )
        self.session.flush()
        return True

    def unbind(self, account_id: str, agreement_id: str) -> bool:
        result = self.session.execute(
            delete(AccountAgreement).where(
                AccountAgreement.account_id == account_id,
                AccountAgreement.agreement_id == agreement_id,
            )
        )
        return bool(getattr(result, "rowcount", 0))

    def accounts_for_agreement(self, agreement_id: str) -> Sequence[str]:
        return (
            self.session.execute(
                select(Account.username)
                .join(AccountAgreement, AccountAgreement.account_id == Account.id)
                .where(AccountAgreement.agreement_id == agreement_id)
                .order_by(Account.username)
            )
            .scalars()
            .all()
        )

    def operators_of(self, account_id: str) -> Sequence[Account]:
        return (
            self.session.execute(select(Account).where(Account.operator_of == account_id))
            .scalars()
            .all()
        )

    def record_failure(
        self, account_id: str, now: datetime, max_failures: int, lock_for: timedelta
    ) -> tuple[int, datetime | None]:
        """Count one failed login atomically; lock once the count reaches `max_failures`.

        One UPDATE, so concurrent failures on PostgreSQL cannot lose a count. A lock that
        has already run out starts the count again.
        """
        now_p = literal(now, UtcDateTime())
        expired = and_(Account.locked_until.is_not(None), Account.locked_until <= now_p)
        count = case((expired, 0), else_=Account.failed_logins) + 1
        stmt = (
            update(Account)
            .where(Account.id == account_id)
            .values(
                failed_logins=count,
                locked_until=case(
                    (count >= max_failures, literal(now + lock_for, UtcDateTime())),
                    (expired, None),
                    else_=Account.locked_until,
                ),
            )
            .returning(Account.failed_logins, Account.locked_until)
            .execution_options(synchronize_session="fetch")
        )
        failed, until = self.session.execute(stmt).one()
        return int(failed), until

    def record_success(
        self, account_id: str, values: dict[str, Any]
    ) -> None:  # values: any of failed_logins, locked_until, last_login_at, secret_hash
        if values:
            self.session.execute(
                update(Account)
                .where(Account.id == account_id)
                .values(**values)
                .execution_options(synchronize_session="fetch")
            )

    # -- the hot path ---------------------------------------------------------------------

    @staticmethod
    def _principal_select(*extra: Any) -> Any:
        # Operators act under their data user's agreements, so agreements join on
        # coalesce(operator_of, id); one row per agreement (or one row when there are none).
        return select(
            Account.id,
            Account.username,
            Account.kind,
            Account.role,
            Account.status,
            Account.institution_code,
            Institution.access_cidrs,
            _DataUser.username.label("data_user"),
            _DataUser.status.label("data_user_status"),
            AccountAgreement.agreement_id,
            *extra,
        )

    @staticmethod
    def _principal_joins(stmt: Any) -> Any:
        return (
            stmt.join(Institution, Institution.code == Account.institution_code)
            .outerjoin(_DataUser, _DataUser.id == Account.operator_of)
            .outerjoin(
                AccountAgreement,
                AccountAgreement.account_id == func.coalesce(Account.operator_of, Account.id),
            )
        )

    def principal_rows_for_token(self, token_hash: str) -> Sequence[Row[Any]]:
        """Token, account, institution and agreements in one query keyed by the token's PK."""
        stmt = (
            self._principal_select(ClientToken.expires_at, ClientToken.revoked_at)
            .select_from(ClientToken)
            .join(Account, Account.id == ClientToken.account_id)
        )
        stmt = self._principal_joins(stmt).where(ClientToken.token_hash == token_hash)
        return list(self.session.execute(stmt).all())

    def principal_rows_for_account(
        self, account_id: str, *, with_lock: bool = False
    ) -> Sequence[Row[Any]]:
        extra = (Account.locked_until,) if with_lock else ()
        stmt = self._principal_joins(self._principal_select(*extra).select_from(Account))
        return list(self.session.execute(stmt.where(Account.id == account_id)).all())


class TokenRepository(Repository):
    def add(self, token: ClientToken) -> None:
        self.session.add(token)
        self.session.flush()

    def revoke(self, token_hash: str, at: datetime) -> bool:
        result = self.session.execute(
            update(ClientToken)
            .where(ClientToken.token_hash == token_hash, ClientToken.revoked_at.is_(None))
            .values(revoked_at=at)
            .execution_options(synchronize_session=False)
        )
        return bool(getattr(result, "rowcount", 0))

    def revoke_all_for_account(self, account_id: str, at: datetime) -> int:
        result = self.session.execute(
            update(ClientToken)
            .where(ClientToken.account_id == account_id, ClientToken.revoked_at.is_(None))
            .values(revoked_at=at)
            .execution_options(synchronize_session=False)
        )
        return int(getattr(result, "rowcount", 0))

    def purge_expired(self, before: datetime) -> int:
        result = self.session.execute(
            delete(ClientToken)
            .where(ClientToken.expires_at < before)
            .execution_options(synchronize_session=False)
        )
        return int(getattr(result, "rowcount", 0))

    def count_live(self, account_id: str, now: datetime) -> int:
        return int(
            self.session.execute(
                select(func.count())
                .select_from(ClientToken)
                .where(
                    ClientToken.account_id == account_id,
                    ClientToken.revoked_at.is_(None),
                    ClientToken.expires_at > now,
                )
            ).scalar_one()
        )


class DeviceRepository(Repository):
    def by_serial(self, serial: str) -> Device | None:
        return self.session.execute(
            select(Device).where(Device.serial == serial)
        ).scalar_one_or_none()

    def by_sam(self, sam_id: str) -> Device | None:
        return self.session.execute(
            select(Device).where(Device.sam_id == sam_id)
        ).scalar_one_or_none()

    def add(self, device: Device) -> None:
        self.session.add(device)
        self.session.flush()

    def search(self, institution: str | None = None) -> Sequence[Device]:
        stmt = select(Device).order_by(Device.institution_code, Device.serial)
        if institution is not None:
            stmt = stmt.where(Device.institution_code == institution)
        return self.session.execute(stmt).scalars().all()

    def not_inactive_for_institution(self, institution: str) -> Sequence[Device]:
        return (
            self.session.execute(
                select(Device)
                .where(Device.institution_code == institution, Device.status != "nonaktif")
                .order_by(Device.serial)
            )
            .scalars()
            .all()
        )


# --- quota counters (simpul.access.quota.DatabaseCounter) -------------------------------

# Adds the units only if the window stays within its limit; no row back means refused. On
# SQLite the transaction holds the write lock (BEGIN IMMEDIATE); on PostgreSQL the conflict
# row is locked and the condition re-read on its latest version: correct across processes.
_TAKE_QUOTA = (
    "INSERT INTO quota_counter (window_key, used, window_end) VALUES (?, ?, ?) "
    "ON CONFLICT (window_key) DO UPDATE SET used = quota_counter.used + excluded.used "
    "WHERE quota_counter.used + excluded.used <= ? RETURNING used"
)


def counter_engine(settings: Settings) -> Engine:
    """The quota counters' own engine, whose commits do not wait for the disk (SQLite
    synchronous NORMAL in WAL mode, PostgreSQL synchronous_commit off): a counter is not a
    record, and a call must not wait for a flush to be counted."""
    if settings.effective_database_url.startswith("sqlite"):
        if settings.sqlite_synchronous in ("FULL", "EXTRA"):
            settings = settings.model_copy(update={"sqlite_synchronous": "NORMAL"})
        return make_engine(settings, pool_size=4, max_overflow=8)
    return make_engine(settings, pool_size=4, max_overflow=8,
                       connect_args={"options": "-c synchronous_commit=off"})  # fmt: skip


def take_quota(session: Session, windows: Sequence[tuple[str, int, int]], units: int) -> bool:
    """Add `units` to each (key, limit, window end) while each stays within its limit; False
    at the first that would not (the caller rolls back: all windows or none)."""
    for key, limit, ends in windows:
        if driver_fetchone(session, _TAKE_QUOTA, (key, units, ends, limit)) is None:
            return False
    return True


def quota_used(session: Session, keys: Sequence[str]) -> dict[str, int]:
    rows = session.execute(
        select(QuotaCounter.window_key, QuotaCounter.used).where(QuotaCounter.window_key.in_(keys))
    )
    return {k: int(n) for k, n in rows}


def prune_quota(session: Session, now: int) -> None:
    """Forget windows closed more than a minute ago."""
    session.execute(delete(QuotaCounter).where(QuotaCounter.window_end < now - 60))


class ThrottleRepository(Repository):
    """Failed sign-ins per (name, source): one upsert per failure, atomic on both backends
    (concurrent failures on PostgreSQL cannot lose a count)."""

    def get(self, username: str, source: str) -> LoginThrottle | None:
        return self.session.get(LoginThrottle, (username, source), populate_existing=True)

    def _insert(self) -> Any:
        dialect = self.session.get_bind().dialect.name
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            return pg_insert(LoginThrottle)
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert(LoginThrottle)

    def count_failure(
        self, username: str, source: str, now: datetime, forget_before: datetime
    ) -> tuple[int, datetime | None]:
        """One more failure (the count starts again after a quiet `forget_before`); returns
        the count and the block as it stood before."""
        prior = self.get(username, source)
        before = prior.blocked_until if prior is not None else None
        now_p = literal(now, UtcDateTime())
        stale = LoginThrottle.last_failure_at < literal(forget_before, UtcDateTime())
        ins = self._insert().values(
            username=username, source=source, failures=1, last_failure_at=now
        )
        stmt = ins.on_conflict_do_update(
            index_elements=[LoginThrottle.username, LoginThrottle.source],
            set_={
                "failures": case((stale, 1), else_=LoginThrottle.failures + 1),
                "last_failure_at": now_p,
            },
        ).returning(LoginThrottle.failures)
        failures = int(self.session.execute(stmt).scalar_one())
        return failures, before

    def block(self, username: str, source: str, until: datetime) -> None:
        self.session.execute(
            update(LoginThrottle)
            .where(LoginThrottle.username == username, LoginThrottle.source == source)
            .values(blocked_until=until)
            .execution_options(synchronize_session=False)
        )

    def record_success(self, username: str, source: str, now: datetime) -> None:
        stmt = self._insert().values(
            username=username, source=source, failures=0, last_success_at=now
        )
        self.session.execute(
            stmt.on_conflict_do_update(
                index_elements=[LoginThrottle.username, LoginThrottle.source],
                set_={"failures": 0, "blocked_until": None, "last_success_at": now},
            )
        )

    def clear(self, username: str, source: str | None = None) -> int:
        """Lift every block on the name (or one source's); keeps the record of good sources."""
        cond = [LoginThrottle.username == username, LoginThrottle.failures > 0]
        if source is not None:
            cond.append(LoginThrottle.source == source)
        result = self.session.execute(
            update(LoginThrottle)
            .where(*cond)
            .values(failures=0, blocked_until=None)
            .execution_options(synchronize_session=False)
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    def purge(self, before: datetime) -> int:
        """Rows with no failure and no success since `before` say nothing any more."""
        b = literal(before, UtcDateTime())
        result = self.session.execute(
            delete(LoginThrottle).where(
                func.coalesce(LoginThrottle.last_failure_at, b) <= b,
                func.coalesce(LoginThrottle.last_success_at, b) <= b,
            )
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]


class SecondFactorRepository(Repository):
    def get(self, account_id: str) -> SecondFactor | None:
        return self.session.get(SecondFactor, account_id)

    def put(self, row: SecondFactor) -> None:
        self.session.merge(row)
        self.session.flush()

    def delete(self, account_id: str) -> bool:
        self.session.execute(delete(RecoveryCode).where(RecoveryCode.account_id == account_id))
        result = self.session.execute(
            delete(SecondFactor).where(SecondFactor.account_id == account_id)
        )
        self.session.expire_all()  # a SecondFactor loaded earlier in this session is gone
        return bool(getattr(result, "rowcount", 0))

    def use_step(self, account_id: str, step: int) -> bool:
        """Record `step` as used, only if it is later than the last one used: one atomic
        update, so two requests with the same code cannot both pass."""
        result = self.session.execute(
            update(SecondFactor)
            .where(SecondFactor.account_id == account_id, SecondFactor.last_step < step)
            .values(last_step=step)
        )
        return bool(getattr(result, "rowcount", 0))

    def confirm(self, account_id: str, at: datetime) -> None:
        self.session.execute(
            update(SecondFactor)
            .where(SecondFactor.account_id == account_id)
            .values(confirmed_at=at)
        )

    def enrolled(self, account_ids: Iterable[str]) -> set[str]:
        ids = sorted(set(account_ids))
        if not ids:
            return set()
        stmt = select(SecondFactor.account_id).where(
            SecondFactor.account_id.in_(ids), SecondFactor.confirmed_at.is_not(None)
        )
        return set(self.session.execute(stmt).scalars())

    def replace_codes(self, account_id: str, hashes: Iterable[str], at: datetime) -> None:
        self.session.execute(delete(RecoveryCode).where(RecoveryCode.account_id == account_id))
        self.session.add_all(
            RecoveryCode(account_id=account_id, code_hash=h, created_at=at) for h in hashes
        )
        self.session.flush()

    def use_code(self, account_id: str, code_hash: str, at: datetime) -> bool:
        result = self.session.execute(
            update(RecoveryCode)
            .where(
                RecoveryCode.account_id == account_id,
                RecoveryCode.code_hash == code_hash,
                RecoveryCode.used_at.is_(None),
            )
            .values(used_at=at)
        )
        return bool(getattr(result, "rowcount", 0))

    def codes_left(self, account_id: str) -> int:
        stmt = select(func.count()).where(
            RecoveryCode.account_id == account_id, RecoveryCode.used_at.is_(None)
        )
        return int(self.session.scalar(stmt) or 0)
