"""Build the whole synthetic Indonesia and write one Parquet file per dataset."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa

from simpul.registry.identifiers import LAKI_LAKI, PEREMPUAN
from simpul.registry.synth.asn import build_asn
from simpul.registry.synth.families import SPOUSE, build_families
from simpul.registry.synth.geo import load_geo
from simpul.registry.synth.people import build_people
from simpul.registry.synth.pools import (
    GOLONGAN_DARAH,
    PEKERJAAN,
    PENDIDIKAN,
    SHDK,
    STATUS_PERKAWINAN,
)
from simpul.registry.synth.provinces import AGAMA
from simpul.registry.synth.tables import assemble, write
from simpul.registry.synth.util import dates, digits, stream, take
from simpul.registry.synth.welfare import (
    build_welfare,
    household_id,
    household_wealth,
    housing_columns,
    person_columns,
)

DATASETS = ("kependudukan", "asn", "dtks", "regsosek")
SEXES = (LAKI_LAKI, PEREMPUAN)


def _shdk(role: np.ndarray, sex: np.ndarray) -> np.ndarray:
    """Index into SHDK: the spouse is SUAMI or ISTRI by sex."""
    index = np.array([0, 1, 3, 4, 5, 6, 7, 8, 9])[role]
    return np.where((role == SPOUSE) & (sex == 1), 2, index)


def generate_world(people: int, seed: int, out_dir: Path) -> dict[str, Path]:
    """Write `<dataset>.parquet` for the four registries; same seed → same bytes."""
    geo = load_geo()
    fam = build_families(stream(seed, "families"), geo, people)
    wealth = household_wealth(stream(seed, "wealth"), fam, geo)
    ppl = build_people(stream(seed, "people"), fam, geo, wealth)
    welfare = build_welfare(stream(seed, "welfare"), fam, wealth)
    asn = build_asn(stream(seed, "asn"), fam, geo, ppl, welfare)
    hh = pa.array(fam.p_hh, type=pa.int64())
    village = fam.h_village[fam.p_hh]
    dist = geo.vill_dist[village]
    reg = geo.dist_reg[dist]
    sex = take(SEXES, fam.p_sex)
    shdk = take(SHDK, _shdk(fam.p_role, fam.p_sex))
    common = {
        "nik": digits(ppl.nik),
        "no_kk": digits(ppl.kk).take(hh),
        "nama_lengkap": ppl.names,
        "jenis_kelamin": sex,
        "tanggal_lahir": dates(ppl.birth),
        "status_hubungan_keluarga": shdk,
        "kode_wilayah": take(geo.vill_codes, village),
        "alamat": ppl.h_address.take(hh),
    }
    kependudukan = assemble(
        "kependudukan",
        {
            **common,
            "agama": take(AGAMA, fam.h_religion[fam.p_hh]),
            "tempat_lahir": ppl.birthplace,
            "status_perkawinan": take(STATUS_PERKAWINAN, fam.p_marital),
            "jenis_pekerjaan": take(PEKERJAAN, asn.work),
            "pendidikan_terakhir": take(PENDIDIKAN, ppl.edu),
            "golongan_darah": take(GOLONGAN_DARAH, ppl.blood),
            "nama_ibu": ppl.mother,
            "nama_ayah": ppl.father,
            "rt": ppl.h_rt.take(hh),
            "rw": ppl.h_rw.take(hh),
            "kelurahan": take(geo.vill_names, village),
            "kecamatan": take(geo.dist_names, dist),
            "kabupaten": take(geo.reg_names, reg),
            "provinsi": take(geo.prov_names, geo.reg_prov[reg]),
            "kewarganegaraan": pa.array(np.full(fam.n_people, "WNI")),
        },
    )
    out = Path(out_dir)
    paths = {"kependudukan": write(kependudukan, out / "kependudukan.parquet")}
    del kependudukan

    rows = pa.array(asn.persons, type=pa.int64())
    paths["asn"] = write(
        assemble(
            "asn",
            {
                **asn.table,
                "nip": digits(asn.table["nip"]),
                "nik": common["nik"].take(rows),
                "nama_lengkap": ppl.names.take(rows),
                "jenis_kelamin": sex.take(rows),
                "tempat_lahir": ppl.birthplace.take(rows),
                "tanggal_lahir": common["tanggal_lahir"].take(rows),
            },
        ),
        out / "asn.parquet",
    )

    rng = stream(seed, "registries")
    in_dtks = pa.array(welfare.dtks[fam.p_hh])
    flags = {
        "penerima_pkh": welfare.pkh,
        "penerima_bpnt": welfare.bpnt,
        "penerima_pbi_jk": welfare.pbi,
    }
    dtks_cols = {
        **{k: v.filter(in_dtks) for k, v in common.items()},
        "id_dtks": household_id(rng, fam, geo, "DT", 6).take(hh).filter(in_dtks),
        "desil": pa.array(welfare.desil[fam.p_hh]).filter(in_dtks),
        **{k: pa.array(v[fam.p_hh]).filter(in_dtks) for k, v in flags.items()},
    }
    paths["dtks"] = write(assemble("dtks", dtks_cols), out / "dtks.parquet")
    del dtks_cols

    housing = housing_columns(rng, fam, geo, welfare)
    regsosek = {
        **common,
        "id_keluarga": household_id(rng, fam, geo, "RS", 5).take(hh),
        **{k: v.take(hh) for k, v in housing.items()},
        **person_columns(rng, fam, ppl.edu, asn.work, welfare),
        "desil_kesejahteraan": pa.array(welfare.desil[fam.p_hh]),
    }
    paths["regsosek"] = write(assemble("regsosek", regsosek), out / "regsosek.parquet")
    return paths
