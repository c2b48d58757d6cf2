"""Access service: institutions, accounts and their secrets, agreement bindings, card-reader
devices. Authentication (the hot path) is in `simpul.access.auth`.

Every function takes the caller's session; the caller commits. Reads (get/list) are public.
The functions that change state are private (`_create_account`, `_revoke_account` …):
adapters (CLI, portal, demo) reach them only through `simpul.governance.actions`, which
writes each change's audit record in the same transaction, so no change goes unrecorded.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import SecretStr, ValidationError
from sqlalchemy.orm import Session

from simpul.access import passwords as pw
from simpul.access import throttle
from simpul.access.auth import authenticate_password
from simpul.access.models import Account, Device, Institution, InstitutionNameHistory
from simpul.access.repository import (
    AccountRepository,
    DeviceRepository,
    InstitutionRepository,
    SecondFactorRepository,
    TokenRepository,
)
from simpul.access.schemas import (
    AccountCreate,
    AccountKind,
    AccountOut,
    AccountStatus,
    Contact,
    DeviceIn,
    DeviceOut,
    DeviceStatus,
    InstitutionIn,
    InstitutionOut,
    InstitutionUpdate,
    IssuedSecret,
    NameChange,
    Role,
    SeedReport,
)
from simpul.errors import Conflict, InvalidInput, NotFound
from simpul.kit.clock import Clock, SystemClock
from simpul.kit.ids import new_id
from simpul.kit.timezones import Zone, zone_of_region

SYSTEM_CLOCK: Clock = SystemClock()

SEED_FILE = "institutions.yaml"


# -- errors -------------------------------------------------------------------------------


def _no_institution(code: str) -> NotFound:
    return NotFound("instansi_tidak_ditemukan", f"Instansi {code!r} tidak terdaftar.")


def _no_account(username: str) -> NotFound:
    return NotFound("akun_tidak_ditemukan", f"Akun {username!r} tidak ditemukan.")


def _no_device(serial: str) -> NotFound:
    return NotFound("perangkat_tidak_ditemukan", f"Pembaca kartu {serial!r} tidak terdaftar.")


# -- institutions -------------------------------------------------------------------------


def _institution_out(inst: Institution) -> InstitutionOut:
    return InstitutionOut(
        code=inst.code,
        name=inst.name,
        kind=inst.kind,
        address=inst.address,
        contact=Contact(
            name=inst.contact_name,
            position=inst.contact_position,
            email=inst.contact_email,
            phone=inst.contact_phone,
        ),
        access_cidrs=list(inst.access_cidrs),
        region=inst.region,
        time_zone=zone_of_region(inst.region).abbr,
        created_at=inst.created_at,
        updated_at=inst.updated_at,
    )


def _apply_details(inst: Institution, data: InstitutionIn | InstitutionUpdate) -> bool:
    """Copy the non-name details; True when anything changed."""
    values: dict[str, Any] = {}
    if data.kind is not None:
        values["kind"] = data.kind.value
    if data.address is not None:
        values["address"] = data.address
    if data.contact is not None:
        values |= {
            "contact_name": data.contact.name,
            "contact_position": data.contact.position,
            "contact_email": data.contact.email,
            "contact_phone": data.contact.phone,
        }
    if data.access_cidrs is not None:
        values["access_cidrs"] = list(data.access_cidrs)
    if data.region is not None:
        values["region"] = data.region
    changed = False
    for key, value in values.items():
        if getattr(inst, key) != value:
            setattr(inst, key, value)
            changed = True
    return changed


def _create_institution(
    session: Session, data: InstitutionIn, *, clock: Clock = SYSTEM_CLOCK
) -> InstitutionOut:
    repo = InstitutionRepository(session)
    if repo.get(data.code) is not None:
        raise Conflict("instansi_sudah_ada", f"Instansi {data.code!r} sudah terdaftar.")
    now = clock.now()
    inst = Institution(code=data.code, name=data.name, created_at=now, updated_at=now)
    _apply_details(inst, data)
    repo.add(inst)
    return _institution_out(inst)


def _update_institution(
    session: Session, code: str, data: InstitutionUpdate, *, clock: Clock = SYSTEM_CLOCK
) -> InstitutionOut:
    """Address, contact, kind, access points; a name change is `_rename_institution`."""
    inst = InstitutionRepository(session).get(code)
    if inst is None:
        raise _no_institution(code)
    if _apply_details(inst, data):
        inst.updated_at = clock.now()
        session.flush()
    return _institution_out(inst)


def get_institution(session: Session, code: str) -> InstitutionOut:
    inst = InstitutionRepository(session).get(code)
    if inst is None:
        raise _no_institution(code)
    return _institution_out(inst)


def institution_name(session: Session, code: str) -> str | None:
    """The institution's current name, or None for a code not registered."""
    inst = InstitutionRepository(session).get(code)
    return inst.name if inst is not None else None


def institution_zone(session: Session, code: str) -> Zone:
    """The time zone an institution's people read times in (its region's; WIB if unknown)."""
    inst = InstitutionRepository(session).get(code)
    return zone_of_region(inst.region if inst is not None else None)


def list_institutions(session: Session) -> list[InstitutionOut]:
    return [_institution_out(i) for i in InstitutionRepository(session).all()]


def _rename_institution(
    session: Session,
    code: str,
    new_name: str,
    *,
    actor: str,
    reason: str,
    clock: Clock = SYSTEM_CLOCK,
) -> NameChange:
    """Record a change of nomenclature. The returned `NameChange` is the fact the agreements
    capability acts on: a recipient's new name can end its PKS (PKS 003 Pasal 6)."""
    repo = InstitutionRepository(session)
    inst = repo.get(code)
    if inst is None:
        raise _no_institution(code)
    new_name = new_name.strip()
    if not new_name or len(new_name) > 300:
        raise InvalidInput("nama_instansi_tidak_valid", "Nama instansi harus 1-300 karakter.")
    if new_name == inst.name:
        raise Conflict("nama_instansi_sama", "Nama baru sama dengan nama yang tercatat.")
    _require_reason(reason)
    now = clock.now()
    change = InstitutionNameHistory(
        institution_code=code,
        old_name=inst.name,
        new_name=new_name,
        changed_at=now,
        actor=actor,
        reason=reason,
    )
    inst.name = new_name
    inst.updated_at = now
    repo.add_name_change(change)
    return _name_change_out(change)


def _name_change_out(change: InstitutionNameHistory) -> NameChange:
    return NameChange(
        institution=change.institution_code,
        old_name=change.old_name,
        new_name=change.new_name,
        changed_at=change.changed_at,
        actor=change.actor,
        reason=change.reason,
    )


def name_history(session: Session, code: str) -> list[NameChange]:
    repo = InstitutionRepository(session)
    if repo.get(code) is None:
        raise _no_institution(code)
    return [_name_change_out(c) for c in repo.name_history(code)]


def read_seed(path: Path | None = None) -> list[InstitutionIn]:
    """Institutions from a YAML file (default: the demo institutions shipped with Simpul)."""
    if path is None:
        text = (resources.files("simpul.access") / "seed" / SEED_FILE).read_text("utf-8")
        source = SEED_FILE
    else:
        if not path.exists():
            raise NotFound("berkas_tidak_ada", f"Berkas {path} tidak ditemukan.")
        text, source = path.read_text("utf-8"), str(path)
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InvalidInput(
            "seed_tidak_valid", f"{source}: YAML tidak dapat dibaca ({exc})."
        ) from None
    items = doc.get("institutions") if isinstance(doc, dict) else None
    if not isinstance(items, list):
        raise InvalidInput("seed_tidak_valid", f"{source}: kunci 'institutions' (daftar) wajib.")
    specs: list[InstitutionIn] = []
    for n, item in enumerate(items, start=1):
        try:
            specs.append(InstitutionIn.model_validate(item))
        except ValidationError as exc:
            fields = ", ".join(".".join(str(p) for p in e["loc"]) for e in exc.errors())
            raise InvalidInput(
                "seed_tidak_valid", f"{source}: instansi ke-{n} tidak valid ({fields})."
            ) from None
    codes = [s.code for s in specs]
    if len(set(codes)) != len(codes):
        raise InvalidInput("seed_tidak_valid", f"{source}: kode instansi ganda.")
    return specs


def _load_institutions(
    session: Session, specs: Iterable[InstitutionIn], *, clock: Clock = SYSTEM_CLOCK
) -> SeedReport:
    """Create missing institutions and refresh the details of existing ones.

    A different name is reported, never applied: a rename can end an agreement and must be
    an explicit, reasoned action (`_rename_institution`).
    """
    repo = InstitutionRepository(session)
    report = SeedReport(created=[], updated=[], unchanged=[], name_differs=[])
    for spec in specs:
        inst = repo.get(spec.code)
        if inst is None:
            _create_institution(session, spec, clock=clock)
            report.created.append(spec.code)
            continue
        if inst.name != spec.name:
            report.name_differs.append(spec.code)
        if _apply_details(inst, spec):
            inst.updated_at = clock.now()
            report.updated.append(spec.code)
        else:
            report.unchanged.append(spec.code)
    session.flush()
    return report


def _load_seed(
    session: Session, path: Path | None = None, *, clock: Clock = SYSTEM_CLOCK
) -> SeedReport:
    return _load_institutions(session, read_seed(path), clock=clock)


# -- accounts -----------------------------------------------------------------------------


def _require_reason(reason: str) -> None:
    if not reason or not reason.strip():
        raise InvalidInput("alasan_wajib", "Alasan wajib diisi untuk tindakan ini.")


def _account_out(
    session: Session, acct: Account, agreements: list[str] | None = None
) -> AccountOut:
    repo = AccountRepository(session)
    if agreements is None:
        agreements = repo.agreements([acct.id]).get(acct.id, [])
    data_user = repo.username_of(acct.operator_of) if acct.operator_of else None
    enrolled = bool(SecondFactorRepository(session).enrolled([acct.id]))
    return _account_row_out(acct, data_user, agreements, enrolled)


def _account_row_out(
    acct: Account, data_user: str | None, agreements: list[str], second_factor: bool = False
) -> AccountOut:
    return AccountOut(
        id=acct.id,
        username=acct.username,
        kind=acct.kind,
        role=acct.role,
        institution=acct.institution_code,
        full_name=acct.full_name,
        operator_of=data_user,
        status=acct.status,
        agreement_ids=agreements,
        failed_logins=acct.failed_logins,
        locked_until=acct.locked_until,
        last_login_at=acct.last_login_at,
        created_at=acct.created_at,
        revoked_at=acct.revoked_at,
        revoke_reason=acct.revoke_reason,
        second_factor=second_factor,
    )


def _account(session: Session, username: str) -> Account:
    acct = AccountRepository(session).by_username(username.strip().lower())
    if acct is None:
        raise _no_account(username)
    return acct


def _data_user_for_operator(session: Session, data: AccountCreate) -> Account:
    """PKS 000 Pasal 6(3)f: each operator serves one active data user of its institution."""
    if data.kind is not AccountKind.USER:
        raise InvalidInput(
            "operator_harus_pengguna", "Operator harus akun pengguna (manusia), bukan klien."
        )
    if data.operator_of is None:
        raise InvalidInput(
            "operator_wajib_pengguna_data",
            "Operator wajib ditetapkan untuk satu Pengguna Data (--operator-of).",
        )
    if data.agreement_ids:
        raise InvalidInput(
            "operator_tidak_diikat_pks",
            "Operator bertindak atas PKS Pengguna Data yang dilayaninya; "
            "ikatkan PKS pada Pengguna Data.",
        )
    target = AccountRepository(session).by_username(data.operator_of)
    if target is None:
        raise NotFound(
            "pengguna_data_tidak_ditemukan", f"Pengguna Data {data.operator_of!r} tidak ada."
        )
    if target.role != Role.DATA_USER:
        raise InvalidInput(
            "operator_bukan_untuk_pengguna_data",
            f"Akun {target.username!r} bukan Pengguna Data (peran {target.role}).",
        )
    if target.institution_code != data.institution:
        raise InvalidInput(
            "operator_beda_instansi",
            "Operator dan Pengguna Data yang dilayaninya harus dari instansi yang sama.",
        )
    if target.status != AccountStatus.AKTIF:
        raise Conflict("pengguna_data_dicabut", f"Pengguna Data {target.username!r} dicabut.")
    return target


def _new_secret(
    kind: AccountKind, username: str, given: SecretStr | None, passwords: pw.Passwords
) -> tuple[str, str, bool]:
    """(secret shown once, stored hash, generated?)."""
    if kind is AccountKind.CLIENT:
        if given is not None:
            # sha256 storage is only sound for secrets with full entropy, so we make them.
            raise InvalidInput(
                "rahasia_klien_dibangkitkan", "Rahasia klien selalu dibangkitkan oleh sistem."
            )
        secret = pw.generate_client_secret()
        return secret, pw.hash_client_secret(secret), True
    if given is None:
        secret = pw.generate_password()
        return secret, passwords.hash(secret), True
    pw.check_policy(given.get_secret_value(), username)
    return given.get_secret_value(), passwords.hash(given.get_secret_value()), False


def _create_account(
    session: Session,
    data: AccountCreate,
    *,
    actor: str,
    clock: Clock = SYSTEM_CLOCK,
    passwords: pw.Passwords | None = None,
) -> IssuedSecret:
    """Create a user or machine client. The secret comes back once and is stored hashed."""
    repo = AccountRepository(session)
    if InstitutionRepository(session).get(data.institution) is None:
        raise _no_institution(data.institution)
    if repo.by_username(data.username) is not None:
        raise Conflict("user_id_sudah_ada", f"User ID {data.username!r} sudah dipakai.")
    data_user: Account | None = None
    if data.role is Role.OPERATOR:
        data_user = _data_user_for_operator(session, data)
    elif data.operator_of is not None:
        raise InvalidInput(
            "operator_of_hanya_untuk_operator", "--operator-of hanya untuk peran operator."
        )
    secret, stored, generated = _new_secret(
        data.kind, data.username, data.password, passwords or pw.default()
    )
    now = clock.now()
    acct = Account(
        id=new_id(),
        username=data.username,
        kind=data.kind.value,
        role=data.role.value,
        institution_code=data.institution,
        full_name=data.full_name,
        operator_of=data_user.id if data_user else None,
        status=AccountStatus.AKTIF.value,
        secret_hash=stored,
        secret_changed_at=now,
        failed_logins=0,
        created_at=now,
        created_by=actor,
    )
    repo.add(acct)
    for agreement_id in data.agreement_ids:
        repo.bind(acct.id, agreement_id, now, actor)
    return IssuedSecret(
        account=_account_out(session, acct, list(data.agreement_ids)),
        secret=SecretStr(secret),
        generated=generated,
    )


def get_account(session: Session, username: str) -> AccountOut:
    return _account_out(session, _account(session, username))


def account_institution(session: Session, username: str) -> str | None:
    """The institution of the account named `username` (as given: no normalising), or None
    when there is no such account."""
    acct = AccountRepository(session).by_username(username)
    return acct.institution_code if acct is not None else None


def list_accounts(
    session: Session, *, institution: str | None = None, role: Role | None = None
) -> list[AccountOut]:
    repo = AccountRepository(session)
    rows = repo.search(institution, role.value if role else None)
    agreements = repo.agreements(acct.id for acct, _ in rows)
    enrolled = SecondFactorRepository(session).enrolled(a.id for a, _ in rows)
    return [_account_row_out(a, du, agreements.get(a.id, []), a.id in enrolled) for a, du in rows]


def _revoke_account(
    session: Session, username: str, *, actor: str, reason: str, clock: Clock = SYSTEM_CLOCK
) -> AccountOut:
    """Revoke at once: its tokens are killed and every later call is refused. An operator of
    this account is refused too (its data user's status is checked on every call)."""
    _require_reason(reason)
    acct = _account(session, username)
    if acct.status == AccountStatus.DICABUT:
        raise Conflict("akun_sudah_dicabut", f"Akun {acct.username!r} sudah dicabut.")
    now = clock.now()
    acct.status = AccountStatus.DICABUT.value
    acct.revoked_at = now
    acct.revoked_by = actor
    acct.revoke_reason = reason
    TokenRepository(session).revoke_all_for_account(acct.id, now)
    session.flush()
    return _account_out(session, acct)


def _reset_secret(
    session: Session,
    username: str,
    *,
    actor: str,
    reason: str,
    clock: Clock = SYSTEM_CLOCK,
    passwords: pw.Passwords | None = None,
) -> IssuedSecret:
    """A new generated password or client secret, shown once. Clears a lockout; a client's
    existing tokens stop working (the old secret may be what leaked)."""
    _require_reason(reason)
    acct = _account(session, username)
    if acct.status == AccountStatus.DICABUT:
        # Not `akun_dicabut` (401, a revoked caller): an action on an account already revoked.
        raise Conflict(
            "akun_sudah_dicabut", f"Akun {acct.username!r} dicabut; rahasia tidak diganti."
        )
    kind = AccountKind(acct.kind)
    secret, stored, _ = _new_secret(kind, acct.username, None, passwords or pw.default())
    now = clock.now()
    acct.secret_hash = stored
    acct.secret_changed_at = now
    acct.failed_logins = 0
    acct.locked_until = None
    if kind is AccountKind.CLIENT:
        TokenRepository(session).revoke_all_for_account(acct.id, now)
    session.flush()
    return IssuedSecret(
        account=_account_out(session, acct), secret=SecretStr(secret), generated=True
    )


def _change_password(
    session: Session,
    username: str,
    current: str,
    new: str,
    *,
    clock: Clock = SYSTEM_CLOCK,
    passwords: pw.Passwords | None = None,
) -> AccountOut:
    """The user's own change (PKS 003 Pasal 2(1)f: the recipient manages its password)."""
    hasher = passwords or pw.default()
    principal = authenticate_password(session, username, current, clock=clock, passwords=hasher)
    if principal.kind is not AccountKind.USER:
        raise InvalidInput("bukan_akun_pengguna", "Rahasia klien diganti lewat reset-secret.")
    pw.check_policy(new, principal.username)
    acct = _account(session, principal.username)
    acct.secret_hash = hasher.hash(new)
    acct.secret_changed_at = clock.now()
    session.flush()
    return _account_out(session, acct)


def _unlock_account(
    session: Session, username: str, *, actor: str, reason: str, source: str | None = None
) -> tuple[AccountOut, int]:
    """Lift the sign-in throttle on an account before it runs out (e.g. after the user's
    identity was checked): every source, or only `source`. Returns how many were lifted."""
    _require_reason(reason)
    acct = _account(session, username)
    acct.failed_logins = 0
    acct.locked_until = None
    session.flush()
    return _account_out(session, acct), throttle.clear(session, acct.username, source)


def _bind_agreement(
    session: Session, username: str, agreement_id: str, *, actor: str, clock: Clock = SYSTEM_CLOCK
) -> AccountOut:
    acct = _account(session, username)
    if acct.role == Role.OPERATOR:
        raise InvalidInput(
            "operator_tidak_diikat_pks",
            "Operator bertindak atas PKS Pengguna Data yang dilayaninya.",
        )
    agreement_id = agreement_id.strip()
    if not agreement_id or len(agreement_id) > 80:
        raise InvalidInput("pks_tidak_valid", "ID PKS harus 1-80 karakter.")
    AccountRepository(session).bind(acct.id, agreement_id, clock.now(), actor)
    return _account_out(session, acct)


def _unbind_agreement(
    session: Session, username: str, agreement_id: str, *, actor: str, reason: str
) -> AccountOut:
    _require_reason(reason)
    acct = _account(session, username)
    if not AccountRepository(session).unbind(acct.id, agreement_id):
        raise NotFound(
            "ikatan_pks_tidak_ada", f"Akun {acct.username!r} tidak terikat PKS {agreement_id!r}."
        )
    return _account_out(session, acct)


def accounts_for_agreement(session: Session, agreement_id: str) -> list[str]:
    """Usernames bound directly to an agreement (operators follow their data user)."""
    return list(AccountRepository(session).accounts_for_agreement(agreement_id))


def _revoke_account_tokens(session: Session, username: str, now: datetime) -> int:
    """Revoke every live client token of the account named `username`; 0 for an unknown
    account. Returns the number of tokens revoked."""
    acct = AccountRepository(session).by_username(username)
    if acct is None:
        return 0
    return TokenRepository(session).revoke_all_for_account(acct.id, now)


# -- card-reader devices ------------------------------------------------------------------


def _device_out(dev: Device) -> DeviceOut:
    return DeviceOut(
        id=dev.id,
        serial=dev.serial,
        sam_id=dev.sam_id,
        institution=dev.institution_code,
        status=dev.status,
        registered_at=dev.registered_at,
        registered_by=dev.registered_by,
        activated_at=dev.activated_at,
        activated_by=dev.activated_by,
        deactivated_at=dev.deactivated_at,
        deactivated_by=dev.deactivated_by,
        deactivation_reason=dev.deactivation_reason,
    )


def _device(session: Session, serial: str) -> Device:
    dev = DeviceRepository(session).by_serial(serial.strip())
    if dev is None:
        raise _no_device(serial)
    return dev


def _register_device(
    session: Session, data: DeviceIn, *, actor: str, clock: Clock = SYSTEM_CLOCK
) -> DeviceOut:
    repo = DeviceRepository(session)
    if InstitutionRepository(session).get(data.institution) is None:
        raise _no_institution(data.institution)
    if repo.by_serial(data.serial) is not None:
        raise Conflict("perangkat_sudah_terdaftar", f"Nomor seri {data.serial!r} sudah terdaftar.")
    if repo.by_sam(data.sam_id) is not None:
        raise Conflict(
            "sam_sudah_terdaftar", f"SAM {data.sam_id!r} sudah terpasang di perangkat lain."
        )
    dev = Device(
        id=new_id(),
        serial=data.serial,
        sam_id=data.sam_id,
        institution_code=data.institution,
        status=DeviceStatus.TERDAFTAR.value,
        registered_at=clock.now(),
        registered_by=actor,
    )
    repo.add(dev)
    return _device_out(dev)


def _activate_device(
    session: Session, serial: str, *, actor: str, clock: Clock = SYSTEM_CLOCK
) -> DeviceOut:
    """terdaftar → aktif after SAM personalisation; nonaktif → aktif to reinstate."""
    dev = _device(session, serial)
    if dev.status == DeviceStatus.AKTIF:
        raise Conflict("perangkat_sudah_aktif", f"Pembaca kartu {dev.serial!r} sudah aktif.")
    dev.status = DeviceStatus.AKTIF.value
    dev.activated_at = clock.now()
    dev.activated_by = actor
    session.flush()
    return _device_out(dev)


def _deactivate(dev: Device, actor: str, reason: str, now: datetime) -> None:
    dev.status = DeviceStatus.NONAKTIF.value
    dev.deactivated_at = now
    dev.deactivated_by = actor
    dev.deactivation_reason = reason


def _deactivate_device(
    session: Session, serial: str, *, actor: str, reason: str, clock: Clock = SYSTEM_CLOCK
) -> DeviceOut:
    _require_reason(reason)
    dev = _device(session, serial)
    if dev.status == DeviceStatus.NONAKTIF:
        raise Conflict("perangkat_sudah_nonaktif", f"Pembaca kartu {dev.serial!r} sudah nonaktif.")
    _deactivate(dev, actor, reason, clock.now())
    session.flush()
    return _device_out(dev)


def _deactivate_all_for_institution(
    session: Session, institution: str, *, actor: str, reason: str, clock: Clock = SYSTEM_CLOCK
) -> list[DeviceOut]:
    """On termination (PKS 003 Pasal 9): every reader not yet inactive, registered ones too,
    so none can be switched on under an agreement that has ended. Returns those changed."""
    _require_reason(reason)
    if InstitutionRepository(session).get(institution) is None:
        raise _no_institution(institution)
    now = clock.now()
    devices = DeviceRepository(session).not_inactive_for_institution(institution)
    for dev in devices:
        _deactivate(dev, actor, reason, now)
    session.flush()
    return [_device_out(d) for d in devices]


def get_device(session: Session, serial: str) -> DeviceOut:
    return _device_out(_device(session, serial))


def list_devices(session: Session, *, institution: str | None = None) -> list[DeviceOut]:
    return [_device_out(d) for d in DeviceRepository(session).search(institution)]
