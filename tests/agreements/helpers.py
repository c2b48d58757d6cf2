"""Builders for agreement tests: seed texts, mutated copies and a fixed 'today'."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from simpul.agreements.loader import seed_dir
from simpul.kit.clock import FixedClock

# "Today" in the brief: 2026-11-23, 10:00 WIB.
TODAY = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)
SEED_IDS = ("pks-bappenas-jabar", "pks-dukcapil-bkn", "pks-kemenkop-bkn", "pks-kemensos-bkn")


def today_clock() -> FixedClock:
    return FixedClock(TODAY)


def seed_text(agreement_id: str) -> str:
    return (seed_dir() / f"{agreement_id}.yaml").read_text(encoding="utf-8")


def replace_once(text: str, old: str, new: str) -> str:
    assert text.count(old) >= 1, f"not in seed: {old!r}"
    return text.replace(old, new, 1)


def line_of(text: str, needle: str) -> int:
    """1-based line of the first line containing `needle`."""
    for number, line in enumerate(text.splitlines(), start=1):
        if needle in line:
            return number
    raise AssertionError(f"{needle!r} not found")


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


ADDENDUM = """\
adendum: adendum-uji-1
perjanjian: pks-dukcapil-bkn
judul: Adendum uji
tanggal_tanda_tangan: 2026-06-01
versi_dasar: 1
pasal_dasar: Pasal 9 huruf b
alasan: Perpanjangan dan perubahan hibah untuk pengujian
perubahan:
  jangka_waktu:
    berakhir: 2028-06-30
  hibah_hapus: [hibah-ikd-ws]
  hibah_ubah:
    - id: hibah-verifikasi-ws
      kuota: {per_hari: 5}
  hibah_tambah:
    - id: hibah-verifikasi-batch
      pasal: Pasal 2 ayat (1) huruf a
      penyedia: dukcapil
      penerima: bkn
      dataset: kependudukan
      layanan: verifikasi
      mekanisme: batch
      elemen_masukan: [nik, nama_lengkap, tanggal_lahir]
      tujuan: Verifikasi massal untuk pengujian
"""
