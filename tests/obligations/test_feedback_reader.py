"""Feedback files are read like lists (issue 17): an unclosed quote costs only its own row,
and a line that is not UTF-8 is decoded alone and said so in its verdict."""

from __future__ import annotations

from datetime import date

from simpul.agreements.schemas import FeedbackDuty
from simpul.audit.service import SubjectHasher
from simpul.obligations.feedback import columns, validate_rows

DUTY = FeedbackDuty.model_validate(
    {
        "id": "data-balikan-uji",
        "jenis": "data_balikan",
        "pasal": "Pasal 2 ayat (2) huruf c",
        "oleh": ["bkn"],
        "dataset": "kependudukan",
        "elemen": ["nama_lengkap"],
    }
)
HASHER = SubjectHasher("kunci-uji")
TODAY = date(2026, 12, 7)


def _niks(count: int) -> list[str]:
    return [f"32730152039{n:05d}" for n in range(1, count + 1)]


def test_the_duty_columns_are_what_the_files_carry() -> None:
    assert columns(DUTY) == ["nik", "nama_lengkap"]


def test_an_unclosed_quote_rejects_its_row_and_every_later_row_is_judged() -> None:
    niks = _niks(40)
    lines = [f"{nik},WARGA {i}\n" for i, nik in enumerate(niks)]
    lines.insert(5, '3273015203999999,"BUDI SANTOSO\n')  # line 7: the quote never closes
    content = "nik,nama_lengkap\n" + "".join(lines)  # text, as callers before issue 17 gave
    owed = {HASHER(n) for n in niks}
    verdicts = validate_rows(content, DUTY, owed, HASHER, TODAY)
    assert len(verdicts) == 41
    broken = [v for v in verdicts if not v.accepted]
    assert [(v.line, v.code) for v in broken] == [(7, "kutip_tidak_seimbang")]
    assert sum(v.accepted for v in verdicts) == 40 and verdicts[-1].line == 42


def test_a_line_that_is_not_utf8_is_decoded_alone_and_said_so() -> None:
    niks = _niks(3)
    content = (
        f"nik,nama_lengkap\n{niks[0]},JOSÉ RAMOS\n".encode()
        + f"{niks[1]},MAR".encode()
        + b"\xcdA LOPEZ\n"  # cp1252 Í, not UTF-8
        + f"{niks[2]},NUÑEZ\n".encode()
    )
    verdicts = validate_rows(content, DUTY, {HASHER(n) for n in niks}, HASHER, TODAY)
    assert [v.data["nama_lengkap"] for v in verdicts] == ["JOSÉ RAMOS", "MARÍA LOPEZ", "NUÑEZ"]
    assert all(v.accepted for v in verdicts)
    assert [v.line for v in verdicts if "UTF-8" in v.detail] == [3]
