"""Whole-document checks and addendum merging, each problem tied to the key that causes it.

`validate_agreement` = shape (pydantic) + meaning: parties exist, datasets and elements exist
in the registry definitions, services get what they need, dates are in order. Problems carry
a `loc` in the YAML's own (Indonesian) keys, which the loader turns into a file line.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from simpul.agreements.schemas import (
    CHANGEABLE_SECTIONS,
    FAMILY_MEMBERS,
    KEYED_SERVICES,
    NON_DISCLOSING,
    RESULTS,
    AddendumDocument,
    AgreementDocument,
    FeedbackDuty,
    Grant,
    MinutesDuty,
    Service,
)
from simpul.registry.datasets import Dataset, ElementType, builtin_datasets
from simpul.registry.regions import load_regions

Loc = tuple[str | int, ...]


@dataclass(frozen=True)
class Issue:
    loc: Loc
    message: str


class DocumentInvalid(Exception):
    def __init__(self, issues: Sequence[Issue]) -> None:
        super().__init__("; ".join(f"{format_loc(i.loc)}: {i.message}" for i in issues))
        self.issues = list(issues)


def format_loc(loc: Loc) -> str:
    """`("hibah", 1, "elemen_masukan")` → `hibah[1].elemen_masukan`."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out or "(dokumen)"


# ---------------------------------------------------------------- pydantic → Indonesian

_TYPE_MESSAGES = {
    "missing": "kunci wajib belum diisi",
    "extra_forbidden": "kunci tidak dikenal",
    "string_type": "harus berupa teks",
    "int_type": "harus berupa bilangan bulat",
    "int_parsing": "harus berupa bilangan bulat",
    "int_from_float": "harus berupa bilangan bulat",
    "float_type": "harus berupa bilangan",
    "float_parsing": "harus berupa bilangan",
    "bool_type": "harus true atau false",
    "bool_parsing": "harus true atau false",
    "list_type": "harus berupa daftar",
    "tuple_type": "harus berupa daftar",
    "dict_type": "harus berupa pemetaan (kunci: nilai)",
    "model_type": "harus berupa pemetaan (kunci: nilai)",
    "model_attributes_type": "harus berupa pemetaan (kunci: nilai)",
    "date_type": "bukan tanggal yang sah (format TTTT-BB-HH)",
    "date_parsing": "bukan tanggal yang sah (format TTTT-BB-HH)",
    "date_from_datetime_parsing": "bukan tanggal yang sah (format TTTT-BB-HH)",
    "date_from_datetime_inexact": "harus tanggal tanpa jam (format TTTT-BB-HH)",
    "string_too_short": "tidak boleh kosong",
    "frozen_instance": "tidak dapat diubah",
}


def _message(err: ErrorDetails) -> str:
    kind = err["type"]
    ctx = err.get("ctx") or {}
    if kind in ("enum", "literal_error"):
        choices = str(ctx.get("expected", "")).replace(" or ", " atau ")
        return f"nilai {err['input']!r} tidak dikenal; pilihan: {choices}"
    if kind == "union_tag_invalid":
        return f"jenis {ctx.get('tag')!r} tidak dikenal; pilihan: {ctx.get('expected_tags', '')}"
    if kind == "union_tag_not_found":
        return "kunci 'jenis' wajib diisi"
    if kind == "string_pattern_mismatch":
        return f"nilai {err['input']!r} tidak sesuai pola {ctx.get('pattern')}"
    if kind == "too_short":
        return f"harus berisi paling sedikit {ctx.get('min_length')} butir"
    if kind == "string_too_long":
        return f"terlalu panjang (paling banyak {ctx.get('max_length')} karakter)"
    if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        sign = {"greater_than_equal": "≥", "greater_than": ">", "less_than_equal": "≤"}
        bound = next(iter(ctx.values()), "")
        return f"harus {sign.get(kind, '<')} {bound}"
    if kind == "value_error":
        return str(ctx.get("error", err["msg"]))
    return _TYPE_MESSAGES.get(kind, err["msg"])


def issues_from_pydantic(exc: ValidationError) -> list[Issue]:
    out: list[Issue] = []
    for err in exc.errors():
        loc: Loc = tuple(err["loc"])
        if err["type"] == "union_tag_not_found" or err["type"] == "union_tag_invalid":
            loc = (*loc, "jenis")  # point at the discriminating key, not the whole item
        out.append(Issue(loc, _message(err)))
    return out


# ---------------------------------------------------------------- agreement


def validate_agreement(data: Any) -> AgreementDocument:
    """A checked agreement with element profiles expanded, or DocumentInvalid."""
    try:
        doc = AgreementDocument.model_validate(data)
    except ValidationError as exc:
        raise DocumentInvalid(issues_from_pydantic(exc)) from None
    issues = list(check_agreement(doc))
    if issues:
        raise DocumentInvalid(issues)
    return _resolved(doc)


def validate_addendum(data: Any) -> AddendumDocument:
    try:
        add = AddendumDocument.model_validate(data)
    except ValidationError as exc:
        raise DocumentInvalid(issues_from_pydantic(exc)) from None
    if not add.changes.model_dump(exclude_none=True, exclude_defaults=True):
        raise DocumentInvalid([Issue(("perubahan",), "adendum tidak memuat perubahan apa pun")])
    return add


def check_agreement(doc: AgreementDocument) -> Iterator[Issue]:
    yield from _check_term(doc)
    parties = set(doc.party_codes)
    yield from _duplicates(("pihak",), [p.code for p in doc.parties], "kode", "kode pihak")
    for section, items in (
        ("hibah", doc.grants),
        ("kewajiban", doc.duties),
        ("larangan", doc.prohibitions),
        ("pengakhiran", doc.triggers),
        ("akibat_berakhir", doc.end_effects),
    ):
        yield from _duplicates((section,), [it.id for it in items], "id", "id")
    for i, grant in enumerate(doc.grants):
        yield from _check_grant(("hibah", i), grant, parties)
    grant_ids = {g.id for g in doc.grants}
    duty_ids = {d.id for d in doc.duties}
    for i, duty in enumerate(doc.duties):
        loc: Loc = ("kewajiban", i)
        yield from _members((*loc, "oleh"), duty.by, parties)
        if duty.to is not None and duty.to not in parties:
            yield Issue((*loc, "kepada"), f"{duty.to!r} bukan pihak perjanjian")
        if isinstance(duty, FeedbackDuty):
            dataset = _dataset((*loc, "dataset"), duty.dataset)
            if isinstance(dataset, Issue):
                yield dataset
            else:
                _, found = _expand(dataset, duty.elements, (*loc, "elemen"), allow_family=False)
                yield from found
        if isinstance(duty, FeedbackDuty | MinutesDuty):
            for j, gid in enumerate(duty.grants):
                if gid not in grant_ids:
                    yield Issue((*loc, "hibah", j), f"hibah {gid!r} tidak ada pada perjanjian")
    for i, ban in enumerate(doc.prohibitions):
        yield from _members(("larangan", i, "berlaku_bagi"), ban.bound, parties)
        if ban.dataset is not None and isinstance(
            issue := _dataset(("larangan", i, "dataset"), ban.dataset), Issue
        ):
            yield issue
    for i, trigger in enumerate(doc.triggers):
        yield from _members(("pengakhiran", i, "pihak"), trigger.party, parties)
        yield from _members(("pengakhiran", i, "oleh"), trigger.by, parties)
        for j, did in enumerate(trigger.duties):
            if did not in duty_ids:
                yield Issue(
                    ("pengakhiran", i, "kewajiban", j),
                    f"kewajiban {did!r} tidak ada pada perjanjian",
                )


def _check_term(doc: AgreementDocument) -> Iterator[Issue]:
    term = doc.term
    start = term.start or doc.signed_on
    if start is None:
        yield Issue(
            ("jangka_waktu", "mulai"),
            "tanggal mulai tidak dapat ditentukan: isi jangka_waktu.mulai atau "
            "tanggal_tanda_tangan",
        )
    if term.end is not None and term.duration is not None:
        yield Issue(("jangka_waktu", "durasi"), "isi salah satu saja: berakhir atau durasi")
    elif term.end is None and term.duration is None:
        yield Issue(("jangka_waktu", "berakhir"), "kunci wajib belum diisi (atau isi durasi)")
    elif start is not None and term.end is not None and term.end < start:
        yield Issue(
            ("jangka_waktu", "berakhir"),
            f"tanggal berakhir {term.end.isoformat()} sebelum tanggal mulai {start.isoformat()}",
        )
    if doc.starting_state != "draf" and doc.signed_on is None:
        yield Issue(
            ("status_awal",),
            f"status {doc.starting_state!r} memerlukan tanggal_tanda_tangan",
        )


def _duplicates(loc: Loc, values: Sequence[str], key: str, label: str) -> Iterator[Issue]:
    seen: set[str] = set()
    for i, value in enumerate(values):
        if value in seen:
            yield Issue((*loc, i, key), f"{label} {value!r} ganda")
        seen.add(value)


def _members(loc: Loc, codes: Iterable[str], parties: set[str]) -> Iterator[Issue]:
    for j, code in enumerate(codes):
        if code not in parties:
            yield Issue(
                (*loc, j), f"{code!r} bukan pihak perjanjian ({', '.join(sorted(parties))})"
            )


def _dataset(loc: Loc, code: str) -> Dataset | Issue:
    datasets = builtin_datasets()
    if code not in datasets:
        return Issue(loc, f"dataset {code!r} tidak dikenal; pilihan: {', '.join(datasets)}")
    return datasets[code]


def _expand(
    dataset: Dataset, names: Sequence[str], loc: Loc, *, allow_family: bool
) -> tuple[tuple[str, ...], list[Issue]]:
    """Element names with profiles expanded, in order, without repeats."""
    out: list[str] = []
    issues: list[Issue] = []
    known = set(dataset.element_names)

    def take(name: str, where: Loc, via: str = "") -> None:
        if name in known or (name == FAMILY_MEMBERS and allow_family):
            if name not in out:
                out.append(name)
        elif name == FAMILY_MEMBERS:
            issues.append(
                Issue(where, f"{via}'{FAMILY_MEMBERS}' hanya boleh pada keluaran layanan akses_nik")
            )
        else:
            issues.append(
                Issue(
                    where,
                    f"{via}elemen {name!r} tidak ada pada dataset {dataset.code} "
                    f"(elemen: {', '.join(dataset.element_names)}; "
                    f"profil: {', '.join(dataset.profiles) or '-'})",
                )
            )

    for i, name in enumerate(names):
        if name in dataset.profiles and name not in known:
            for member in dataset.profiles[name]:
                take(member, (*loc, i), via=f"profil {name!r}: ")
        else:
            take(name, (*loc, i))
    return tuple(out), issues


def _check_grant(loc: Loc, grant: Grant, parties: set[str]) -> Iterator[Issue]:
    for key, code in (("penyedia", grant.provider), ("penerima", grant.recipient)):
        if code not in parties:
            yield Issue(
                (*loc, key), f"{code!r} bukan pihak perjanjian ({', '.join(sorted(parties))})"
            )
    if grant.provider == grant.recipient:
        yield Issue((*loc, "penerima"), "penerima tidak boleh sama dengan penyedia")
    dataset = _dataset((*loc, "dataset"), grant.dataset)
    if isinstance(dataset, Issue):
        yield dataset
        return
    if dataset.provider != grant.provider:
        yield Issue(
            (*loc, "penyedia"),
            f"dataset {dataset.code} disediakan oleh {dataset.provider!r}, "
            f"bukan {grant.provider!r}",
        )
    service = grant.service
    inputs, found = _expand(
        dataset, grant.input_elements, (*loc, "elemen_masukan"), allow_family=False
    )
    yield from found
    outputs, found = _expand(
        dataset,
        grant.output_elements,
        (*loc, "elemen_keluaran"),
        allow_family=service is Service.AKSES_NIK,
    )
    yield from found
    if service in KEYED_SERVICES and dataset.key not in inputs:
        yield Issue(
            (*loc, "elemen_masukan"),
            f"layanan {service.value} memerlukan elemen kunci {dataset.key!r}",
        )
    if service in NON_DISCLOSING and outputs:
        yield Issue(
            (*loc, "elemen_keluaran"),
            f"layanan {service.value} tidak pernah membuka nilai tersimpan; "
            "kosongkan elemen_keluaran",
        )
    if service is Service.VERIFIKASI_WAJAH and not any(
        dataset.element(n).type is ElementType.CITRA for n in inputs
    ):
        yield Issue((*loc, "elemen_masukan"), "verifikasi_wajah memerlukan elemen foto (citra)")
    results = RESULTS.get(service, ())
    if service is Service.CEK_STATUS:
        if dataset.status_check is None:
            yield Issue((*loc, "layanan"), f"dataset {dataset.code} tidak mendukung cek_status")
        else:
            results = (dataset.status_check.found_label, *results)
            allowed = set(dataset.status_check.outputs)
            for j, name in enumerate(outputs):
                if name not in allowed:
                    yield Issue(
                        (*loc, "elemen_keluaran", j),
                        f"cek_status {dataset.code} hanya dapat mengeluarkan: "
                        f"{', '.join(dataset.status_check.outputs)}",
                    )
    for j, value in enumerate(grant.results):
        if value not in results:
            yield Issue(
                (*loc, "hasil", j),
                f"hasil {value!r} tidak dikenal untuk layanan {service.value}; "
                f"pilihan: {', '.join(results) or '(tidak ada)'}",
            )
    for name in grant.thresholds:
        if name not in inputs:
            yield Issue(
                (*loc, "ambang_kemiripan", name), f"{name!r} bukan elemen masukan hibah ini"
            )
    if grant.return_score and service not in NON_DISCLOSING:
        yield Issue((*loc, "tampilkan_skor"), "skor hanya ada pada layanan verifikasi")
    yield from _check_regions((*loc, "cakupan_wilayah"), grant.region_scope)


def _check_regions(loc: Loc, codes: Sequence[str] | None) -> Iterator[Issue]:
    if codes is None:
        return
    if not codes:
        yield Issue(loc, "daftar kosong; hapus kunci ini untuk cakupan nasional")
    regions = load_regions()
    tables = {
        2: regions.provinces,
        4: regions.regencies,
        6: regions.districts,
        10: regions.villages,
    }
    for j, code in enumerate(codes):
        table = tables.get(len(code))
        if table is None or code not in table:
            yield Issue(
                (*loc, j),
                f"kode wilayah {code!r} tidak dikenal (provinsi 2, kabupaten/kota 4, "
                "kecamatan 6 atau kelurahan/desa 10 digit, tanpa titik)",
            )


def _resolved(doc: AgreementDocument) -> AgreementDocument:
    """The same document with profile names replaced by their elements (idempotent)."""
    datasets = builtin_datasets()
    grants = []
    for g in doc.grants:
        ds = datasets[g.dataset]
        ins, _ = _expand(ds, g.input_elements, (), allow_family=False)
        outs, _ = _expand(ds, g.output_elements, (), allow_family=g.service is Service.AKSES_NIK)
        grants.append(g.model_copy(update={"input_elements": ins, "output_elements": outs}))
    duties = []
    for d in doc.duties:
        if isinstance(d, FeedbackDuty):
            els, _ = _expand(datasets[d.dataset], d.elements, (), allow_family=False)
            d = d.model_copy(update={"elements": els})
        duties.append(d)
    return doc.model_copy(update={"grants": tuple(grants), "duties": tuple(duties)})


# ---------------------------------------------------------------- addenda


def apply_changes(
    base: AgreementDocument, base_effective_from: date, addendum: AddendumDocument
) -> AgreementDocument:
    """The agreement as the addendum amends it; problems are located in the addendum."""
    issues: list[Issue] = []
    if addendum.takes_effect < base_effective_from:
        issues.append(
            Issue(
                ("berlaku_sejak",) if addendum.effective_from else ("tanggal_tanda_tangan",),
                f"adendum berlaku sejak {addendum.takes_effect.isoformat()}, sebelum versi "
                f"sebelumnya berlaku ({base_effective_from.isoformat()})",
            )
        )
    data = copy.deepcopy(base.to_data())
    changes = addendum.changes.model_dump(mode="json", by_alias=True, exclude_none=True)
    if "jangka_waktu" in changes:
        term = dict(data["jangka_waktu"])
        new = changes["jangka_waktu"]
        if "berakhir" in new and "durasi" in new:
            issues.append(
                Issue(("perubahan", "jangka_waktu"), "isi salah satu saja: berakhir atau durasi")
            )
        if "berakhir" in new:
            term.pop("durasi", None)
        if "durasi" in new:
            term.pop("berakhir", None)
        term.update(new)
        data["jangka_waktu"] = term
    if "catatan" in changes:
        data["catatan"] = changes["catatan"]
    origin: dict[tuple[str, int], Loc] = {}
    for section in CHANGEABLE_SECTIONS:
        items: list[dict[str, Any]] = list(data.get(section, []))
        for j, gone in enumerate(changes.get(f"{section}_hapus", [])):
            idx = _index(items, gone)
            if idx is None:
                issues.append(_missing_item(section, "hapus", j, gone))
            else:
                del items[idx]
        positions: dict[int, Loc] = {}
        for k, change in enumerate(changes.get(f"{section}_ubah", [])):
            where: Loc = ("perubahan", f"{section}_ubah", k)
            idx = _index(items, change.get("id"))
            if not isinstance(change.get("id"), str):
                issues.append(Issue((*where, "id"), "kunci wajib belum diisi"))
            elif idx is None:
                issues.append(_missing_item(section, "ubah", k, change["id"]))
            else:
                items[idx] = {**items[idx], **change}
                positions[idx] = where
        for j, item in enumerate(changes.get(f"{section}_tambah", [])):
            where = ("perubahan", f"{section}_tambah", j)
            if _index(items, item.get("id")) is not None:
                issues.append(
                    Issue((*where, "id"), f"{item['id']!r} sudah ada; gunakan {section}_ubah")
                )
            positions[len(items)] = where
            items.append(item)
        origin.update({(section, i): loc for i, loc in positions.items()})
        data[section] = items
    if issues:
        raise DocumentInvalid(issues)
    try:
        return validate_agreement(data)
    except DocumentInvalid as exc:
        raise DocumentInvalid([_relocate(i, origin) for i in exc.issues]) from None


def _index(items: list[dict[str, Any]], item_id: Any) -> int | None:
    return next((i for i, it in enumerate(items) if it.get("id") == item_id), None)


def _missing_item(section: str, op: str, j: int, item_id: str) -> Issue:
    return Issue(
        ("perubahan", f"{section}_{op}", j), f"{section} {item_id!r} tidak ada pada perjanjian"
    )


def _relocate(issue: Issue, origin: dict[tuple[str, int], Loc]) -> Issue:
    """Point a problem in the merged document back at the addendum key that caused it."""
    loc = issue.loc
    if len(loc) >= 2 and isinstance(loc[0], str) and isinstance(loc[1], int):
        start = origin.get((loc[0], loc[1]))
        if start is not None:
            return Issue(start + loc[2:], issue.message)
    if loc and loc[0] == "jangka_waktu":
        return Issue(("perubahan", *loc), issue.message)
    return Issue(("perubahan",), f"setelah perubahan, {format_loc(loc)}: {issue.message}")
