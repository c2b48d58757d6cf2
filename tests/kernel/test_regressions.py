"""Regressions for defects an outside test found, that no capability's own tests cover:
SQLite and PostgreSQL."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from simpul.audit.models import AuditRecord
from simpul.audit.service import subject_history
from tests.kernel.probes import SHORT_NIK, World

pytestmark = pytest.mark.xdist_group("inventory")
REQUEST_ID = re.compile(r"portal-[0-9a-f]+")


def test_a_portal_validation_refusal_is_the_record_the_page_cites(world: World) -> None:
    """The page said "Permintaan ini dicatat di log audit (no. permintaan portal-…)" for a
    15-digit NIK, but no record with that request id existed."""
    resp = world.form("bkn.pengguna", "/portal/layanan/akses-nik", "/portal/layanan/akses-nik",
                      {"nik": SHORT_NIK})  # fmt: skip
    assert resp.status_code == 422
    cited = REQUEST_ID.findall(resp.text)
    assert cited, "the refusal page cites no request id"
    with world.rt.sessions() as s:
        found = s.scalars(select(AuditRecord).where(AuditRecord.request_id == cited[0])).all()
    assert [(r.decision, r.actor, r.action) for r in found] == [
        ("tolak", "bkn.pengguna", "akses_nik")
    ]
    assert found[0].reason.startswith("nik_")  # the validation's own code


def test_a_family_member_is_recorded_with_what_was_shown_for_them(world: World) -> None:
    """A family member shown in a look-up was recorded with the main subject's elements,
    photo included; the member's history now names only what the member table showed."""
    by_kk: dict[str, list[dict[str, object]]] = {}
    for p in world.people:
        by_kk.setdefault(str(p["no_kk"]), []).append(p)
    family = next(members for members in by_kk.values() if len(members) >= 2)
    main, member = family[0], family[1]
    resp = world.form("bkn.pengguna", "/portal/layanan/akses-nik", "/portal/layanan/akses-nik",
                      {"nik": main["nik"]})  # fmt: skip
    assert resp.status_code == 200 and str(member["nama_lengkap"]) in resp.text
    with world.rt.sessions() as s:
        mine = {h.seq: h for h in subject_history(s, world.rt.settings, str(main["nik"]))}
        theirs = [h for h in subject_history(s, world.rt.settings, str(member["nik"]))
                  if h.action == "akses_nik"]  # fmt: skip
    (shared,) = theirs  # one look-up named the member: the main subject's
    assert shared.seq in mine
    assert "foto_wajah" in mine[shared.seq].elements  # the main subject's grant shows a photo
    shown_for_member = set(shared.elements)
    assert "foto_wajah" not in shown_for_member and "anggota_keluarga" not in shown_for_member
    assert {"nama_lengkap", "nik"} <= shown_for_member
