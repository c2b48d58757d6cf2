"""Bounded uploads (issue 17): a job matched chunk by chunk gives the results of one run,
whatever the chunk size; lists over the limits are refused before any job exists; a
malformed row in a later chunk is still reported by its line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from simpul import kernel
from simpul.agreements.schemas import Grant, Mechanism
from simpul.config import Settings
from simpul.kernel import AccountName, Node, Origin
from simpul.matching import engine
from simpul.pemadanan import runner, service
from simpul.pemadanan.models import MatchIssue, MatchJob, MatchResultRow
from simpul.pemadanan.upload import ListReader
from simpul.registry.synth import sample_list

from .conftest import Env

USER = "pemprov-jabar.operator"  # BNBA and pemadanan on Regsosek (Jawa Barat)


def _submit(env: Env, path: Path) -> str:
    origin = Origin(Mechanism.BATCH, action="pemadanan.unggah", dataset="regsosek",
                    internal=True)  # fmt: skip
    job = kernel.run(Node(env.rt), AccountName(USER), origin, service.submit, upload=path,
                     filename=path.name, dataset="regsosek", workflow="regsosek")  # fmt: skip
    return job.id


def _outcome(env: Env, job_id: str) -> tuple[Any, ...]:
    with env.rt.transaction() as s:
        job = s.get(MatchJob, job_id)
        assert job is not None and job.status == "selesai", (job.status, job.error_detail)
        rows = s.scalars(
            select(MatchResultRow).where(MatchResultRow.job_id == job_id)
            .order_by(MatchResultRow.line)
        ).all()  # fmt: skip
        got = [(r.line, r.status, r.nik_cocok, r.probability, r.differing, r.method, r.input,
                r.data) for r in rows]  # fmt: skip
        return dict(job.counts), got


def _run(env: Env, job_id: str, chunk: int) -> None:
    object.__setattr__(env.rt.settings, "match_chunk_rows", chunk)
    assert runner.run_pending(env.rt, limit=1) == 1


def test_chunked_results_equal_one_run(
    env: Env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Few anchors, so that the list's model is cut inside the list, as at full size.
    monkeypatch.setattr(engine, "ANCHOR_SAMPLE", 60)
    path = tmp_path / "daftar.csv"
    sample_list("bpum", 400, 3, env.world, path)
    whole = _submit(env, path)
    _run(env, whole, 1_000_000)
    want = _outcome(env, whole)
    assert want[0]["cocok"] > 0 and len(want[1]) >= 400
    assert any(row[5] in ("perbaikan_nik", "probabilistik") for row in want[1])  # stage 3 ran

    @settings(max_examples=5, deadline=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
    @given(chunk=st.integers(min_value=1, max_value=450))
    def same(chunk: int) -> None:
        job_id = _submit(env, path)
        _run(env, job_id, chunk)
        assert _outcome(env, job_id) == want

    same()
    for chunk in (1, 7):  # the extremes hypothesis may not draw
        job_id = _submit(env, path)
        _run(env, job_id, chunk)
        assert _outcome(env, job_id) == want


def _count(env: Env, model: type) -> int:
    with env.rt.transaction() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def _stored_uploads(env: Env) -> list[Path]:
    root = service.jobs_root(env.settings)
    return list(root.glob("*/masukan*")) if root.exists() else []


@pytest.mark.parametrize(
    ("limits", "status", "code"),
    [
        ({"max_upload_rows": 50}, 422, "baris_melebihi_batas"),
        ({"max_upload_bytes": 2_000}, 413, "berkas_terlalu_besar"),
        ({"match_memory_mb": 10}, 413, "daftar_melebihi_anggaran_memori"),
    ],
)
def test_lists_over_a_limit_are_refused_before_any_job(
    env: Env, tmp_path: Path, limits: dict[str, int], status: int, code: str
) -> None:
    path = tmp_path / "daftar.csv"
    sample_list("bpum", 120, 4, env.world, path)
    for key, value in limits.items():
        object.__setattr__(env.rt.settings, key, value)
    got = env.submit(USER, path, dataset="regsosek", alur="regsosek")
    assert got.status_code == status, got.text
    assert got.headers["content-type"].startswith("application/problem+json")
    assert got.json()["code"] == code
    assert _count(env, MatchJob) == 0 and _count(env, MatchIssue) == 0
    assert _stored_uploads(env) == []


def test_grant_limits_narrow_the_node_limits(settings: Settings) -> None:
    grant = Grant.model_validate({
        "id": "g", "pasal": "Pasal 1", "penyedia": "dukcapil", "penerima": "bkn",
        "dataset": "kependudukan", "layanan": "pemadanan", "mekanisme": "batch",
        "tujuan": "uji", "batas_baris": 1_000, "batas_ukuran_mb": 5,
    })  # fmt: skip
    assert service.upload_limits(settings, grant) == (5 * 1024 * 1024, 1_000)
    wide = grant.model_copy(update={"max_rows": 10**9, "max_upload_mb": 10**6})
    assert service.upload_limits(settings, wide) == (
        settings.max_upload_bytes,
        settings.max_upload_rows,
    )
    assert service.upload_limits(settings, None) == (
        settings.max_upload_bytes,
        settings.max_upload_rows,
    )


def test_a_bad_row_in_a_later_chunk_is_reported_by_its_line(tmp_path: Path) -> None:
    good = "3201011505800001,BUDI SANTOSO,15-05-1980\n"
    body = good * 30 + '3201011505800002,"TIDAK DITUTUP,15-05-1980\n' + good * 5
    path = tmp_path / "daftar.csv"
    path.write_text("NIK,NAMA,TANGGAL_LAHIR\n" + body, encoding="utf-8")
    reader = ListReader(path, {}, 1_000)
    chunks = list(reader.chunks(10))
    issues = [(i.line, i.code) for c in chunks for i in c.issues]
    assert issues == [(32, "kutip_tidak_seimbang")]
    assert [len(c.lines) for c in chunks] == [10, 10, 10, 5]
    assert chunks[-1].lines == [33, 34, 35, 36, 37]
    assert reader.rows_total == 36 and reader.rows_invalid == 1 and reader.good_rows == 35
