"""Institutions: the shipped seed, details, access points, and the recorded name history."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from simpul.access import service
from simpul.access.models import InstitutionNameHistory
from simpul.access.schemas import InstitutionIn, InstitutionUpdate
from simpul.db import transaction
from simpul.errors import SimpulError
from simpul.kit.clock import FixedClock
from tests.access.conftest import ADMIN, T0

DEMO = {"dukcapil", "bkn", "kemensos", "kemenkop", "bappenas", "pemprov-jabar"}


def test_shipped_seed_holds_the_demo_institutions() -> None:
    specs = {s.code: s for s in service.read_seed()}
    assert set(specs) == DEMO
    assert specs["dukcapil"].name.startswith("Direktorat Jenderal Kependudukan")
    assert specs["bkn"].kind == "lembaga"
    assert specs["pemprov-jabar"].kind == "pemda"
    assert "Bandung" in specs["pemprov-jabar"].address
    # PKS 003: one closed-network access point per institution; demo ranges are private.
    assert all(len(s.access_cidrs) == 1 for s in specs.values())
    assert all(s.contact.email.endswith(".example") for s in specs.values())


def test_load_seed_is_idempotent_and_never_renames(
    db: sessionmaker[Session], clock: FixedClock, tmp_path: Path
) -> None:
    with transaction(db) as s:
        again = service._load_seed(s, clock=clock)
    assert again.created == [] and again.updated == []
    assert set(again.unchanged) == DEMO

    edited = tmp_path / "inst.yaml"
    edited.write_text(
        """
institutions:
  - code: bkn
    name: Badan Kepegawaian Nasional
    kind: lembaga
    address: Jl. Baru No. 1, Jakarta
    contact: {name: Kontak Baru, position: Penghubung, email: baru@bkn.simpul.example}
    access_cidrs: ["10.20.0.7/24", "10.20.0.0/24"]
""",
        encoding="utf-8",
    )
    with transaction(db) as s:
        report = service._load_seed(s, edited, clock=clock)
        inst = service.get_institution(s, "bkn")
    assert report.updated == ["bkn"] and report.name_differs == ["bkn"]
    assert inst.name == "Badan Kepegawaian Negara"  # a rename must be explicit
    assert inst.address == "Jl. Baru No. 1, Jakarta"
    assert inst.access_cidrs == ["10.20.0.0/24"]  # normalised, deduplicated


def test_rename_is_recorded_and_returned_as_a_nomenclature_change(
    db: sessionmaker[Session], clock: FixedClock
) -> None:
    clock.advance(timedelta(days=30))
    with transaction(db) as s:
        change = service._rename_institution(
            s,
            "kemenkop",
            "Kementerian Koperasi",
            actor=ADMIN,
            reason="Perpres pembentukan kementerian baru",
            clock=clock,
        )
    assert change.nomenclature_changed
    assert change.old_name == "Kementerian Koperasi dan Usaha Kecil dan Menengah"
    assert change.new_name == "Kementerian Koperasi"
    assert change.changed_at == T0 + timedelta(days=30)
    with transaction(db) as s:
        assert service.get_institution(s, "kemenkop").name == "Kementerian Koperasi"
        history = service.name_history(s, "kemenkop")
        rows = s.execute(select(func.count()).select_from(InstitutionNameHistory)).scalar_one()
    assert [(h.old_name, h.new_name, h.actor) for h in history] == [
        (change.old_name, "Kementerian Koperasi", ADMIN)
    ]
    assert history[0].changed_at == change.changed_at  # aware UTC on both backends
    assert rows == 1


@pytest.mark.parametrize(
    ("code", "name", "reason", "error"),
    [
        (
            "kemenkop",
            "Kementerian Koperasi dan Usaha Kecil dan Menengah",
            "x",
            "nama_instansi_sama",
        ),
        ("kemenkop", "Kementerian Koperasi", "  ", "alasan_wajib"),
        ("tidak-ada", "Apa Saja", "x", "instansi_tidak_ditemukan"),
    ],
)
def test_rename_refusals(
    db: sessionmaker[Session], code: str, name: str, reason: str, error: str
) -> None:
    with transaction(db) as s, pytest.raises(SimpulError) as info:
        service._rename_institution(s, code, name, actor=ADMIN, reason=reason)
    assert info.value.code == error
    with transaction(db) as s:
        assert s.execute(select(func.count()).select_from(InstitutionNameHistory)).scalar_one() == 0


def test_create_update_and_access_point_validation(
    db: sessionmaker[Session], clock: FixedClock
) -> None:
    spec = {
        "code": "pemkab-garut",
        "name": "Pemerintah Kabupaten Garut",
        "kind": "pemda",
        "address": "Jl. Pembangunan No. 181, Garut",
        "contact": {"name": "Diskominfo", "position": "Penghubung", "email": "x@garut.example"},
        "access_cidrs": ["10.70.1.0/24"],
    }
    with transaction(db) as s:
        created = service._create_institution(s, InstitutionIn.model_validate(spec), clock=clock)
    assert created.access_cidrs == ["10.70.1.0/24"]
    with transaction(db) as s, pytest.raises(SimpulError) as info:
        service._create_institution(s, InstitutionIn.model_validate(spec), clock=clock)
    assert info.value.code == "instansi_sudah_ada"

    clock.advance(timedelta(hours=1))
    with transaction(db) as s:
        updated = service._update_institution(
            s, "pemkab-garut", InstitutionUpdate(access_cidrs=["fd00:12::/48"]), clock=clock
        )
    assert updated.access_cidrs == ["fd00:12::/48"]
    assert updated.updated_at == T0 + timedelta(hours=1)

    for bad in (["0.0.0.0/0"], ["10.0.0.0/33"], ["bukan-cidr"]):
        with pytest.raises(ValueError, match=r"CIDR|seluruh alamat"):
            InstitutionUpdate(access_cidrs=bad)
    with pytest.raises(ValueError, match="surel"):
        InstitutionIn.model_validate({**spec, "contact": {**spec["contact"], "email": "x"}})  # type: ignore[dict-item]


def test_a_bad_seed_file_names_the_entry(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("institutions:\n  - code: X Y\n    name: ''\n", encoding="utf-8")
    with pytest.raises(SimpulError) as info:
        service.read_seed(bad)
    assert info.value.code == "seed_tidak_valid"
    assert "instansi ke-1" in info.value.detail
