"""Institution actions: create, load a seed file, update details, rename."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.orm import Session

from simpul.access import service as access
from simpul.access.schemas import (
    InstitutionIn,
    InstitutionOut,
    InstitutionUpdate,
    NameChange,
    SeedReport,
)
from simpul.config import Settings
from simpul.governance.actions._audit import audit
from simpul.kit.clock import Clock


def create_institution(
    session: Session, settings: Settings, clock: Clock, data: InstitutionIn, *, actor: str
) -> InstitutionOut:
    inst = access._create_institution(session, data, clock=clock)
    audit(
        session, settings, clock, "instansi.buat", actor, None, institution=inst.code,
        detail={"nama": inst.name},
    )  # fmt: skip
    return inst


def load_institutions(
    session: Session, settings: Settings, clock: Clock, path: Path | None = None, *,
    actor: str,
) -> SeedReport:  # fmt: skip
    """Institutions from a YAML file (default: the shipped demo institutions). A different
    name is reported, never applied: renaming is its own action (`rename_institution`)."""
    report = access._load_seed(session, path, clock=clock)
    audit(
        session, settings, clock, "instansi.muat", actor, None,
        detail={"berkas": str(path) if path else "bawaan", "dibuat": report.created,
                "diperbarui": report.updated, "nama_berbeda": report.name_differs},
    )  # fmt: skip
    return report


def update_institution(
    session: Session, settings: Settings, clock: Clock, code: str, data: InstitutionUpdate, *,
    actor: str, reason: str | None = None,
) -> InstitutionOut:  # fmt: skip
    """Address, contact, kind, access points; the record names the fields given."""
    inst = access._update_institution(session, code, data, clock=clock)
    audit(
        session, settings, clock, "instansi.ubah", actor, reason, institution=code,
        detail={"kolom": sorted(data.model_dump(exclude_none=True))},
    )  # fmt: skip
    return inst


def rename_institution(
    session: Session, settings: Settings, clock: Clock, code: str, new_name: str, *,
    actor: str, reason: str,
) -> NameChange:  # fmt: skip
    """A change of nomenclature is recorded; PKS 003 Pasal 6 lets it end the agreement
    (enforcement rules per agreement are part of the obligations capability)."""
    change = access._rename_institution(
        session, code, new_name, actor=actor, reason=reason, clock=clock
    )
    audit(
        session, settings, clock, "instansi.ubah_nama", actor, reason, institution=code,
        detail={"nama_lama": change.old_name, "nama_baru": change.new_name},
    )  # fmt: skip
    return change
