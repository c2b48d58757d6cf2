from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from simpul.registry.datasets import get_dataset
from simpul.services.compare import compare_elements

KEP = get_dataset("kependudukan")
STORED = {
    "nik": "3273015203900001",
    "no_kk": "3273010106150001",
    "nama_lengkap": "SITI AMINAH",
    "jenis_kelamin": "PEREMPUAN",
    "agama": "ISLAM",
    "tempat_lahir": "BANDUNG",
    "tanggal_lahir": "1990-03-12",
    "status_perkawinan": "KAWIN",
    "status_hubungan_keluarga": "ISTRI",
    "alamat": "JL. MAWAR NO. 12",
}


def outcomes(given_values: dict[str, str]) -> dict[str, str]:
    return {k: v.outcome for k, v in compare_elements(KEP, STORED, given_values).items()}


def test_normalised_values_are_sesuai() -> None:
    assert outcomes(
        {
            "no_kk": "3273 0101 0615 0001",
            "nama_lengkap": "Hj. Siti Aminah, S.Pd.",
            "jenis_kelamin": "perempuan",
            "tanggal_lahir": "12-03-1990",
            "alamat": "Jalan Mawar Nomor 12",
            "tempat_lahir": "Bandung",
        }
    ) == dict.fromkeys(
        ["no_kk", "nama_lengkap", "jenis_kelamin", "tanggal_lahir", "alamat", "tempat_lahir"],
        "sesuai",
    )


def test_differences_are_tidak_sesuai() -> None:
    assert outcomes(
        {
            "nama_lengkap": "SRI WAHYUNI",
            "tanggal_lahir": "1990-12-03",  # day and month swapped
            "agama": "KRISTEN",
            "status_perkawinan": "BELUM KAWIN",
        }
    ) == dict.fromkeys(
        ["nama_lengkap", "tanggal_lahir", "agama", "status_perkawinan"], "tidak_sesuai"
    )


def test_per_grant_threshold_changes_the_outcome() -> None:
    loose = compare_elements(KEP, STORED, {"nama_lengkap": "SITI AMINA"}, {"nama_lengkap": 90})
    strict = compare_elements(KEP, STORED, {"nama_lengkap": "SITI AMINA"}, {"nama_lengkap": 100})
    assert loose["nama_lengkap"].outcome == "sesuai"
    assert strict["nama_lengkap"].outcome == "tidak_sesuai"


@given(st.text(max_size=30))
def test_result_never_carries_the_stored_value(text: str) -> None:
    results = compare_elements(KEP, STORED, {"nama_lengkap": text, "alamat": text})
    for r in results.values():
        assert r._asdict().keys() == {"outcome", "score"}  # nothing else rides along
        assert r.outcome in {"sesuai", "tidak_sesuai"}
        assert 0 <= r.score <= 100
