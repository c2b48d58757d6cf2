"""The shipped region list as arrays: where households live and where people were born."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pyarrow as pa

from simpul.registry.regions import load_regions
from simpul.registry.synth.provinces import PROVINCES
from simpul.registry.synth.util import BoolArray, FloatArray, IntArray, cumulative

# A kelurahan (urban, code digit 7 = 1) holds several times the people of a rural desa.
URBAN_WEIGHT = 3.0
_PROVINCE_SHORT = {"31": "DKI Jakarta", "34": "Daerah Istimewa Yogyakarta"}


def short_regency(name: str) -> str:
    """`Kota Administrasi Jakarta Selatan` → `Jakarta Selatan`, as a KTP's birthplace reads."""
    name = " ".join(name.split())  # the list has stray spaces
    for prefix in ("Kabupaten Administrasi ", "Kota Administrasi ", "Kabupaten ", "Kota "):
        if name.startswith(prefix):
            return name[len(prefix) :]
    return name


@dataclass(frozen=True)
class Geo:
    prov_codes: tuple[str, ...]
    prov_names: pa.Array
    prov_pemda: tuple[str, ...]
    reg_codes: tuple[str, ...]
    reg_names: pa.Array
    reg_short: tuple[str, ...]
    reg_birthplace: pa.Array  # upper case, prefix stripped
    reg_prov: IntArray
    reg_pemda: tuple[str, ...]
    dist_codes: IntArray  # 6-digit codes as integers
    dist_names: pa.Array
    dist_reg: IntArray
    vill_codes: pa.Array  # 10-digit strings
    vill_names: pa.Array
    vill_dist: IntArray
    vill_urban: BoolArray
    prov_villages: tuple[IntArray, ...]  # village indices per province
    prov_village_cum: tuple[FloatArray, ...]
    prov_regencies: tuple[IntArray, ...]

    @property
    def n_prov(self) -> int:
        return len(self.prov_codes)


@lru_cache(maxsize=1)
def load_geo() -> Geo:
    regions = load_regions()
    prov_codes = tuple(sorted(c for c in regions.provinces if c in PROVINCES))
    prov_index = {c: i for i, c in enumerate(prov_codes)}
    reg_codes = tuple(sorted(c for c in regions.regencies if c[:2] in prov_index))
    reg_index = {c: i for i, c in enumerate(reg_codes)}
    dist_list = sorted(c for c in regions.districts if c[:4] in reg_index)
    dist_index = {c: i for i, c in enumerate(dist_list)}
    vill_list = sorted(c for c in regions.villages if c[:6] in dist_index)

    prov_names = [regions.provinces[c] for c in prov_codes]
    reg_names = [regions.regencies[c] for c in reg_codes]
    reg_short = tuple(short_regency(n) for n in reg_names)
    reg_prov = np.array([prov_index[c[:2]] for c in reg_codes], dtype=np.int64)
    # Jakarta's cities and regency are administrative: their staff belong to the province.
    prov_pemda = tuple(
        "Pemerintah Daerah Daerah Istimewa Yogyakarta"
        if c == "34"
        else f"Pemerintah Provinsi {_PROVINCE_SHORT.get(c, n)}"
        for c, n in zip(prov_codes, prov_names, strict=True)
    )
    reg_pemda = tuple(
        prov_pemda[prov_index["31"]] if c.startswith("31") else f"Pemerintah {' '.join(n.split())}"
        for c, n in zip(reg_codes, reg_names, strict=True)
    )
    vill_dist = np.array([dist_index[c[:6]] for c in vill_list], dtype=np.int64)
    vill_urban = np.array([c[6] == "1" for c in vill_list], dtype=bool)
    dist_reg = np.array([reg_index[c[:4]] for c in dist_list], dtype=np.int64)
    vill_prov = reg_prov[dist_reg[vill_dist]]
    weights = np.where(vill_urban, URBAN_WEIGHT, 1.0)
    order = np.argsort(vill_prov, kind="stable")
    bounds = np.searchsorted(vill_prov[order], np.arange(len(prov_codes) + 1))
    prov_villages = tuple(order[bounds[i] : bounds[i + 1]] for i in range(len(prov_codes)))
    prov_regencies = tuple(np.nonzero(reg_prov == i)[0] for i in range(len(prov_codes)))
    return Geo(
        prov_codes=prov_codes,
        prov_names=pa.array(prov_names, type=pa.string()),
        prov_pemda=prov_pemda,
        reg_codes=reg_codes,
        reg_names=pa.array(reg_names, type=pa.string()),
        reg_short=reg_short,
        reg_birthplace=pa.array([s.upper() for s in reg_short], type=pa.string()),
        reg_prov=reg_prov,
        reg_pemda=reg_pemda,
        dist_codes=np.array([int(c) for c in dist_list], dtype=np.int64),
        dist_names=pa.array([regions.districts[c] for c in dist_list], type=pa.string()),
        dist_reg=dist_reg,
        vill_codes=pa.array(vill_list, type=pa.string()),
        vill_names=pa.array([regions.villages[c] for c in vill_list], type=pa.string()),
        vill_dist=vill_dist,
        vill_urban=vill_urban,
        prov_villages=prov_villages,
        prov_village_cum=tuple(cumulative(weights[v]) for v in prov_villages),
        prov_regencies=prov_regencies,
    )
