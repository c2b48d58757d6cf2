"""Turn one raw row into typed element values, with every problem named by element."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from simpul.registry.datasets import Dataset, Element, ElementType
from simpul.registry.identifiers import (
    Issue,
    nik_matches,
    parse_kk,
    parse_nik,
    parse_nip,
)
from simpul.registry.regions import Regions

_SPACES = re.compile(r"\s+")
_DATE_FORMATS = ("%Y-%m-%d", "%d-%m-%Y", "%d/%m/%Y", "%Y/%m/%d", "%d.%m.%Y", "%Y%m%d")
_TRUE = {"1", "Y", "YA", "TRUE", "T", "BENAR"}
_FALSE = {"0", "N", "TIDAK", "FALSE", "F", "SALAH", "BUKAN"}
_FORMULA_START = ("=", "+", "@")


@dataclass
class RowResult:
    values: dict[str, Any] = field(default_factory=dict)
    errors: list[tuple[str | None, Issue]] = field(default_factory=list)
    warnings: list[tuple[str | None, Issue]] = field(default_factory=list)


def parse_date(raw: Any) -> date | None:
    if isinstance(raw, datetime):
        return raw.date()
    if isinstance(raw, date):
        return raw
    text = str(raw).strip()
    if len(text) == 10 and text[4] == "-" and text[7] == "-":  # ISO, the common case: fast
        try:
            return date.fromisoformat(text)
        except ValueError:
            return None
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    return None


def _text(raw: Any) -> str:
    return _SPACES.sub(" ", str(raw)).strip()


class RowValidator:
    """Validates rows of one dataset; `today` bounds dates, `regions` checks codes."""

    def __init__(self, dataset: Dataset, regions: Regions, today: date) -> None:
        self.dataset = dataset
        self.regions = regions
        self.today = today
        self._allowed = {
            el.name: {v.upper(): v for v in el.values} for el in dataset.elements if el.values
        }

    def validate(self, raw: dict[str, Any]) -> RowResult:
        out = RowResult()
        for el in self.dataset.tabular_elements:
            value = raw.get(el.name)
            if value is None or (isinstance(value, str) and not value.strip()):
                if el.required:
                    out.errors.append(
                        (el.name, Issue("elemen_wajib_kosong", f"{el.label} wajib diisi."))
                    )
                out.values[el.name] = None
                continue
            out.values[el.name] = self._coerce(el, value, out)
        self._cross_checks(out)
        return out

    def _coerce(self, el: Element, value: Any, out: RowResult) -> Any:
        def bad(code: str, detail: str) -> None:
            out.errors.append((el.name, Issue(code, detail)))

        kind = el.type
        if kind is ElementType.NIK:
            nik = parse_nik(str(value), reference=self.today, regions=self.regions)
            out.errors.extend((el.name, i) for i in nik.errors)
            out.warnings.extend((el.name, i) for i in nik.warnings)
            return nik.nik
        if kind is ElementType.KK:
            kk = parse_kk(str(value), reference=self.today)
            out.errors.extend((el.name, i) for i in kk.errors)
            return kk.kk
        if kind is ElementType.NIP:
            nip = parse_nip(str(value))
            out.errors.extend((el.name, i) for i in nip.errors)
            return nip.nip
        if kind is ElementType.TANGGAL:
            parsed = parse_date(value)
            if parsed is None:
                bad("tanggal_tidak_valid", f"{el.label} bukan tanggal yang valid.")
            elif parsed > self.today:
                bad("tanggal_di_masa_depan", f"{el.label} jatuh di masa depan.")
            elif parsed.year < 1880:
                bad("tanggal_tidak_masuk_akal", f"{el.label} sebelum tahun 1880.")
            return parsed
        if kind is ElementType.BILANGAN or kind is ElementType.DESIMAL:
            return self._number(el, value, out)
        if kind is ElementType.BOOLEAN:
            if isinstance(value, bool):
                return value
            flag = _text(value).upper()
            if flag in _TRUE:
                return True
            if flag in _FALSE:
                return False
            bad("boolean_tidak_valid", f"{el.label} harus Ya/Tidak (1/0).")
            return None
        if kind is ElementType.WILAYAH:
            code = _text(value).replace(".", "")
            if not (code.isdigit() and len(code) == 10):
                bad("kode_wilayah_tidak_valid", f"{el.label} harus 10 digit kode desa.")
            elif code not in self.regions.villages:
                out.warnings.append(
                    (el.name, Issue("wilayah_tidak_dikenal", "Kode desa tidak ada di daftar."))
                )
            return code
        text = _text(value)
        if kind is ElementType.KODE:
            allowed = self._allowed.get(el.name, {})
            canonical = allowed.get(text.upper())
            if canonical is None:
                bad("nilai_kode_tidak_dikenal", f"{el.label} bernilai di luar daftar kode.")
                return text
            return canonical
        if text.startswith(_FORMULA_START):
            out.warnings.append(
                (
                    el.name,
                    Issue("sel_formula", "Sel diawali karakter formula; disimpan sebagai teks."),
                )
            )
        return text

    def _number(self, el: Element, value: Any, out: RowResult) -> Any:
        try:
            text = _text(value).replace(",", ".") if isinstance(value, str) else value
            number: float | int = int(text) if el.type is ElementType.BILANGAN else float(text)
        except (TypeError, ValueError):
            out.errors.append((el.name, Issue("bilangan_tidak_valid", f"{el.label} bukan angka.")))
            return None
        if (el.minimum is not None and number < el.minimum) or (
            el.maximum is not None and number > el.maximum
        ):
            out.errors.append(
                (
                    el.name,
                    Issue("bilangan_di_luar_rentang", f"{el.label} di luar rentang yang sah."),
                )
            )
        return number

    def _cross_checks(self, out: RowResult) -> None:
        nik, born, sex = (out.values.get(k) for k in ("nik", "tanggal_lahir", "jenis_kelamin"))
        nik_ok = not any(name == "nik" for name, _ in out.errors)
        consistent = (
            not nik_ok
            or not (isinstance(nik, str) and isinstance(born, date) and isinstance(sex, str))
            or nik_matches(nik, born, sex)
        )
        if not consistent:
            # NIKs keep their first registration; corrections happen. Warn, don't reject.
            out.warnings.append(
                (
                    "nik",
                    Issue(
                        "nik_tidak_cocok_biodata",
                        "Tanggal lahir/jenis kelamin dalam NIK berbeda dari elemennya.",
                    ),
                )
            )
