"""Recipient-side lists as agencies hand them over, with the noise real lists carry.

`bpum`: Kemenkop's micro-business aid candidates (PKS 004) — adults, mostly traders and
entrepreneurs, some of them ASN (who are not eligible). `kpm`: Kemensos' proposed
beneficiary families (PKS 001) — one representative per family, mostly from DTKS, with some
ASN planted. A truth file records, per data row, the real NIK, whether the person is ASN and
every noise applied, so matching can be scored.
"""

from __future__ import annotations

import csv
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from simpul.registry.identifiers import PEREMPUAN, nik_date_part
from simpul.registry.synth import noise
from simpul.registry.synth.util import REFERENCE, stream

KINDS = {
    "bpum": ("NIK", "NAMA", "TANGGAL_LAHIR", "NO_HP", "ALAMAT"),
    "kpm": ("NO_KK", "NIK", "NAMA_LENGKAP", "TGL_LAHIR", "ALAMAT", "KODE_WILAYAH"),
}
TRUTH_HEADER = ("row", "nik_benar", "is_asn", "noise")
# Shares of the list (of rows before duplicates are added).
SHARES = {
    "bpum": {"asn": 0.07, "unknown": 0.02, "duplicate": 0.01, "outside": 0.0},
    "kpm": {"asn": 0.03, "unknown": 0.015, "duplicate": 0.01, "outside": 0.06},
}
P_TITLE = {"bpum": 0.08, "kpm": 0.04}
P_OLD_SPELLING = 0.05
P_MUHAMMAD = 0.5
P_TYPO = 0.05
P_CASE = 0.12
P_NIK_MISSING = 0.03
P_NIK_DIGIT = 0.02
P_NIK_TRANSPOSED = 0.02
P_DATE_SWAPPED = 0.02
_COLUMNS = (
    "nik",
    "no_kk",
    "nama_lengkap",
    "tanggal_lahir",
    "jenis_kelamin",
    "agama",
    "alamat",
    "rt",
    "rw",
    "kode_wilayah",
    "jenis_pekerjaan",
    "status_hubungan_keluarga",
)


@dataclass
class Row:
    cells: dict[str, str]
    nik: str  # true NIK, "" when the person is not in the registry
    is_asn: bool
    noise: list[str] = field(default_factory=list)


def truth_path(out_csv: Path) -> Path:
    """`daftar.csv` → `daftar.truth.csv`."""
    return out_csv.with_name(out_csv.stem + ".truth.csv")


def _ages(born: pa.Array) -> np.ndarray:
    days = pc.cast(born, pa.int32()).to_numpy(zero_copy_only=False)
    ref = (REFERENCE - date(1970, 1, 1)).days
    ages: np.ndarray = (ref - days) / 365.2425
    return ages


def _pick(
    rng: np.random.Generator, pool: np.ndarray, weights: np.ndarray | None, k: int
) -> np.ndarray:
    """k distinct items from pool, by weight (exponential keys)."""
    k = min(k, pool.size)
    if k <= 0:
        return pool[:0]
    w = np.ones(pool.size) if weights is None else weights
    keys = rng.exponential(size=pool.size) / np.maximum(w, 1e-12)
    return pool[np.argpartition(keys, k - 1)[:k]]


def _phone(rng: random.Random) -> str:
    # Published lists mask the middle digits; a masked number is never a real one.
    return f"08{rng.choice('1235789')}{rng.randrange(10)}****{rng.randrange(10000):04d}"


def _fabricated(
    rng: random.Random, people: dict[str, list[object]], taken: set[str]
) -> dict[str, object]:
    """Someone not in the registry: a plausible name, birth date and a NIK no one has."""
    n = len(people["nik"])
    a, b = rng.randrange(n), rng.randrange(n)
    female = rng.random() < 0.5
    first = str(people["nama_lengkap"][a]).split(" ")[0]
    last = str(people["nama_lengkap"][b]).split(" ")[-1]
    name = first if first == last or rng.random() < 0.2 else f"{first} {last}"
    born = REFERENCE - timedelta(days=rng.randrange(18 * 365, 65 * 365))
    sex = PEREMPUAN if female else "LAKI-LAKI"
    region = str(people["nik"][a])[:6]
    while True:
        nik = f"{region}{nik_date_part(born, sex)}{rng.randrange(5000, 10000):04d}"
        if nik not in taken:
            break
    source = {k: v[b] for k, v in people.items()}
    issued = REFERENCE - timedelta(days=rng.randrange(30, 16 * 365))
    return {
        **source,
        "nik": nik,
        "nama_lengkap": name,
        "tanggal_lahir": born,
        "jenis_kelamin": sex,
        "no_kk": f"{region}{issued:%d%m%y}{rng.randrange(5000, 10000):04d}",
    }


def _noisy(
    kind: str,
    rng: random.Random,
    person: dict[str, object],
    taken: set[str],
    known: bool,
    is_asn: bool,
) -> Row:
    applied: list[str] = []
    name = str(person["nama_lengkap"])
    born = person["tanggal_lahir"]
    assert isinstance(born, date)
    age = (REFERENCE - born).days / 365.2425
    female = person["jenis_kelamin"] == PEREMPUAN
    muslim = person["agama"] == "ISLAM"
    steps: list[tuple[float, str, Callable[[str], str | None]]] = [
        (P_TITLE[kind], "gelar", lambda n: noise.add_title(rng, n, female, muslim, age)),
        (P_MUHAMMAD, "varian_muhammad", lambda n: noise.muhammad_variant(rng, n)),
        (P_OLD_SPELLING, "ejaan_lama", lambda n: noise.old_spelling(rng, n)),
        (P_TYPO, "salah_ketik", lambda n: noise.typo(rng, n)),
    ]
    for p, label, change in steps:
        renamed = change(name) if rng.random() < p else None
        if renamed is not None:
            name = renamed
            applied.append(label)
    if rng.random() < P_CASE:
        name, label = noise.recase(rng, name)
        applied.append(label)
    nik = str(person["nik"])
    u = rng.random()
    nik_noise = (
        "nik_hilang"
        if u < P_NIK_MISSING
        else "nik_salah_digit"
        if u < P_NIK_MISSING + P_NIK_DIGIT
        else "nik_tertukar"
        if u < P_NIK_MISSING + P_NIK_DIGIT + P_NIK_TRANSPOSED
        else None
    )
    changed: str | None = None
    if nik_noise == "nik_hilang":
        changed = ""
    elif nik_noise == "nik_salah_digit" and known:
        changed = noise.nik_digit(rng, nik, taken)
    elif nik_noise == "nik_tertukar" and known:
        changed = noise.nik_transpose(rng, nik, taken)
    if changed is not None and nik_noise is not None:
        nik = changed
        applied.append(nik_noise)
    if rng.random() < P_DATE_SWAPPED and (swapped := noise.swap_day_month(born)) is not None:
        born = swapped
        applied.append("tanggal_tertukar")
    when = noise.format_date(rng, born)
    address = str(person["alamat"])
    if kind == "bpum":
        cells = {
            "NIK": nik,
            "NAMA": name,
            "TANGGAL_LAHIR": when,
            "NO_HP": _phone(rng),
            "ALAMAT": f"{address} RT {person['rt']}/RW {person['rw']}",
        }
    else:
        cells = {
            "NO_KK": str(person["no_kk"]),
            "NIK": nik,
            "NAMA_LENGKAP": name,
            "TGL_LAHIR": when,
            "ALAMAT": f"{address} RT. {person['rt']} RW. {person['rw']}",
            "KODE_WILAYAH": str(person["kode_wilayah"]),
        }
    if not known:
        applied.insert(0, "tidak_terdaftar")
    return Row(cells, str(person["nik"]) if known else "", is_asn, applied)


def _candidates(
    kind: str, size: int, rng: np.random.Generator, world_dir: Path
) -> tuple[pa.Table, np.ndarray, np.ndarray, set[str]]:
    """Registry rows for the list (indices into the table) and which of them are ASN."""
    table = pq.read_table(world_dir / "kependudukan.parquet", columns=list(_COLUMNS))
    asn_niks = pq.read_table(world_dir / "asn.parquet", columns=["nik"]).column("nik")
    dtks = pq.read_table(world_dir / "dtks.parquet", columns=["nik"]).column("nik")
    is_asn = pc.is_in(table.column("nik"), value_set=asn_niks).to_numpy(zero_copy_only=False)
    in_dtks = pc.is_in(table.column("nik"), value_set=dtks).to_numpy(zero_copy_only=False)
    age = _ages(table.column("tanggal_lahir"))
    shares = SHARES[kind]
    n_asn = round(size * shares["asn"])
    n_unknown = round(size * shares["unknown"])
    n_dup = round(size * shares["duplicate"])
    n_outside = round(size * shares["outside"])
    n_main = max(size - n_asn - n_unknown - n_dup - n_outside, 0)
    everyone = np.arange(table.num_rows)
    # Kemensos' planted ASN are mostly the ones living in DTKS households.
    asn_weight = np.where(in_dtks, 5.0 if kind == "kpm" else 1.0, 1.0)[is_asn]
    asn_rows = _pick(rng, everyone[is_asn], asn_weight, n_asn)
    if kind == "bpum":
        work = table.column("jenis_pekerjaan").to_numpy(zero_copy_only=False)
        weight = np.where(np.isin(work, ["WIRASWASTA", "PEDAGANG"]), 4.0, 1.0)
        weight = np.where(work == "MENGURUS RUMAH TANGGA", 2.0, weight)
        adult = (age >= 18) & (age <= 65) & ~is_asn
        main = _pick(rng, everyone[adult], weight[adult], n_main)
        chosen = np.concatenate([main, asn_rows])
    else:
        role = table.column("status_hubungan_keluarga").to_numpy(zero_copy_only=False)
        kk = table.column("no_kk")
        # One representative per family: the wife where there is one, else the head.
        wife_kk = pc.filter(kk, pa.array(role == "ISTRI"))
        has_wife = pc.is_in(kk, value_set=wife_kk).to_numpy(zero_copy_only=False)
        rep = (role == "ISTRI") | ((role == "KEPALA KELUARGA") & ~has_wife)
        rep &= ~is_asn
        regsosek = pq.read_table(world_dir / "regsosek.parquet", columns=["desil_kesejahteraan"])
        desil = regsosek.column("desil_kesejahteraan").to_numpy()
        main = _pick(rng, everyone[rep & in_dtks], None, n_main)
        near_poor = _pick(
            rng, everyone[rep & ~in_dtks & (desil >= 5) & (desil <= 7)], None, n_outside
        )
        chosen = np.concatenate([main, near_poor, asn_rows])
    taken = set(table.column("nik").to_pylist())
    return (
        table,
        chosen,
        np.concatenate([np.zeros(chosen.size - asn_rows.size, bool), np.ones(asn_rows.size, bool)]),
        taken,
    )


def sample_list(kind: str, size: int, seed: int, world_dir: Path, out_csv: Path) -> Path:
    """Write the list `out_csv` and its truth file; return the truth file's path."""
    if kind not in KINDS:
        raise ValueError(f"jenis daftar tidak dikenal: {kind!r} (pilihan: {', '.join(KINDS)})")
    nprng = stream(seed, f"list-{kind}")
    rng = random.Random(int(nprng.integers(0, 2**63)))
    table, chosen, asn_flags, taken = _candidates(kind, size, nprng, Path(world_dir))
    rows_data = table.take(pa.array(chosen, type=pa.int64())).to_pydict()
    rows: list[Row] = []
    for i in range(len(chosen)):
        person = {k: v[i] for k, v in rows_data.items()}
        rows.append(_noisy(kind, rng, person, taken, True, bool(asn_flags[i])))
    shares = SHARES[kind]
    sample_people = table.slice(0, min(table.num_rows, 5000)).to_pydict()
    for _ in range(round(size * shares["unknown"])):
        rows.append(_noisy(kind, rng, _fabricated(rng, sample_people, taken), taken, False, False))
    rng.shuffle(rows)
    for _ in range(min(round(size * shares["duplicate"]), len(rows))):
        original = rng.randrange(len(rows))
        while "duplikat" in rows[original].noise:
            original = rng.randrange(len(rows))
        copy = Row(
            dict(rows[original].cells),
            rows[original].nik,
            rows[original].is_asn,
            [*rows[original].noise, "duplikat"],
        )
        rows.insert(rng.randrange(original + 1, len(rows) + 1), copy)
    out_csv = Path(out_csv)
    out_csv.parent.mkdir(parents=True, exist_ok=True)
    with out_csv.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=KINDS[kind])
        writer.writeheader()
        writer.writerows(r.cells for r in rows)
    truth = truth_path(out_csv)
    with truth.open("w", encoding="utf-8", newline="") as fh:
        truth_writer = csv.writer(fh)
        truth_writer.writerow(TRUTH_HEADER)
        for i, r in enumerate(rows, start=1):
            truth_writer.writerow([i, r.nik, int(r.is_asn), ";".join(r.noise)])
    return truth
