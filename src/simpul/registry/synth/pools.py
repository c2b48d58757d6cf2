"""Shape of the synthetic population: schooling, work, family codes, housing, addresses.

Figures are rounded public aggregates (census/Susenas orders of magnitude), not microdata.
"""

from __future__ import annotations

PENDIDIKAN = (
    "TIDAK/BELUM SEKOLAH",
    "BELUM TAMAT SD/SEDERAJAT",
    "TAMAT SD/SEDERAJAT",
    "SLTP/SEDERAJAT",
    "SLTA/SEDERAJAT",
    "DIPLOMA I/II",
    "AKADEMI/DIPLOMA III/S. MUDA",
    "DIPLOMA IV/STRATA I",
    "STRATA II",
    "STRATA III",
)
EDU_NONE, EDU_BELUM_SD, EDU_SD, EDU_SLTP, EDU_SLTA, EDU_D12, EDU_D3, EDU_S1, EDU_S2, EDU_S3 = range(
    10
)
# Share of adults aged 25+ by highest level (roughly Susenas/SP2020).
ADULT_EDUCATION = (0.07, 0.11, 0.26, 0.17, 0.27, 0.01, 0.03, 0.075, 0.0045, 0.0005)
# Regsosek's "ijazah tertinggi" for each SIAK level.
IJAZAH = (
    "TIDAK PUNYA IJAZAH",
    "SD/SEDERAJAT",
    "SMP/SEDERAJAT",
    "SMA/SEDERAJAT",
    "D1/D2/D3",
    "D4/S1",
    "S2/S3",
)
IJAZAH_OF_EDU = (0, 0, 1, 2, 3, 4, 4, 5, 6, 6)

GOLONGAN_DARAH = ("A", "B", "AB", "O", "TIDAK TAHU")
GOLONGAN_DARAH_WEIGHTS = (14, 16, 5, 20, 45)

STATUS_PERKAWINAN = ("BELUM KAWIN", "KAWIN", "CERAI HIDUP", "CERAI MATI")
BELUM, KAWIN, CERAI_HIDUP, CERAI_MATI = range(4)

SHDK = (
    "KEPALA KELUARGA",
    "SUAMI",
    "ISTRI",
    "ANAK",
    "MENANTU",
    "CUCU",
    "ORANG TUA",
    "MERTUA",
    "FAMILI LAIN",
    "LAINNYA",
)

PEKERJAAN = (
    "BELUM/TIDAK BEKERJA",
    "MENGURUS RUMAH TANGGA",
    "PELAJAR/MAHASISWA",
    "PENSIUNAN",
    "PEGAWAI NEGERI SIPIL",
    "TENTARA NASIONAL INDONESIA",
    "KEPOLISIAN RI",
    "PETANI/PEKEBUN",
    "PETERNAK",
    "NELAYAN/PERIKANAN",
    "INDUSTRI",
    "KONSTRUKSI",
    "TRANSPORTASI",
    "KARYAWAN SWASTA",
    "KARYAWAN BUMN",
    "KARYAWAN BUMD",
    "KARYAWAN HONORER",
    "BURUH HARIAN LEPAS",
    "BURUH TANI/PERKEBUNAN",
    "BURUH NELAYAN/PERIKANAN",
    "PEMBANTU RUMAH TANGGA",
    "TUKANG BATU",
    "TUKANG KAYU",
    "TUKANG JAHIT",
    "MEKANIK",
    "SOPIR",
    "PEDAGANG",
    "WIRASWASTA",
    "GURU",
    "DOSEN",
    "DOKTER",
    "BIDAN",
    "PERAWAT",
    "APOTEKER",
    "PERANGKAT DESA",
    "KEPALA DESA",
    "USTADZ/MUBALIGH",
    "PENDETA",
    "WARTAWAN",
    "PENGACARA",
    "AKUNTAN",
    "ARSITEK",
    "KONSULTAN",
    "LAINNYA",
)
P = {name: i for i, name in enumerate(PEKERJAAN)}

# Working-age (18–59) men by place and schooling; women are derived with FEMALE_FACTOR.
_WORK_RURAL_LOW: dict[str, float] = {
    "PETANI/PEKEBUN": 28, "BURUH TANI/PERKEBUNAN": 10, "BURUH HARIAN LEPAS": 16,
    "WIRASWASTA": 14, "PEDAGANG": 6, "NELAYAN/PERIKANAN": 4, "BURUH NELAYAN/PERIKANAN": 1.5,
    "PETERNAK": 1.5, "KARYAWAN SWASTA": 6, "SOPIR": 2.5, "TUKANG BATU": 2.5, "TUKANG KAYU": 1.5,
    "MEKANIK": 0.5, "KONSTRUKSI": 0.5, "TRANSPORTASI": 0.5, "BELUM/TIDAK BEKERJA": 4,
    "PERANGKAT DESA": 0.4, "USTADZ/MUBALIGH": 0.2, "LAINNYA": 1,
}  # fmt: skip
_WORK_RURAL_MID: dict[str, float] = {
    "PETANI/PEKEBUN": 16, "BURUH TANI/PERKEBUNAN": 4, "BURUH HARIAN LEPAS": 10, "WIRASWASTA": 20,
    "PEDAGANG": 7, "KARYAWAN SWASTA": 16, "SOPIR": 4, "MEKANIK": 1.5, "KARYAWAN HONORER": 3,
    "TENTARA NASIONAL INDONESIA": 1, "KEPOLISIAN RI": 1, "PERANGKAT DESA": 1.2, "KEPALA DESA": 0.15,
    "NELAYAN/PERIKANAN": 2, "TUKANG BATU": 1, "TUKANG KAYU": 1, "BELUM/TIDAK BEKERJA": 5,
    "GURU": 1, "LAINNYA": 1,
}  # fmt: skip
_WORK_RURAL_HIGH: dict[str, float] = {
    "KARYAWAN SWASTA": 25, "WIRASWASTA": 18, "GURU": 12, "KARYAWAN HONORER": 8,
    "PETANI/PEKEBUN": 6, "PEDAGANG": 4, "PERANGKAT DESA": 2, "PERAWAT": 3, "KARYAWAN BUMN": 3,
    "TENTARA NASIONAL INDONESIA": 1, "KEPOLISIAN RI": 1.5, "BELUM/TIDAK BEKERJA": 6, "DOKTER": 0.5,
    "AKUNTAN": 0.5, "KONSULTAN": 0.3, "PENDETA": 0.3, "USTADZ/MUBALIGH": 0.3, "LAINNYA": 1,
}  # fmt: skip
_WORK_URBAN_LOW: dict[str, float] = {
    "BURUH HARIAN LEPAS": 20, "WIRASWASTA": 22, "KARYAWAN SWASTA": 18, "PEDAGANG": 10,
    "SOPIR": 5, "TUKANG BATU": 3, "TUKANG KAYU": 1.5, "TUKANG JAHIT": 1, "MEKANIK": 2,
    "TRANSPORTASI": 2, "PETANI/PEKEBUN": 3, "NELAYAN/PERIKANAN": 1, "PEMBANTU RUMAH TANGGA": 0.5,
    "BELUM/TIDAK BEKERJA": 6, "INDUSTRI": 1, "KONSTRUKSI": 1, "LAINNYA": 2,
}  # fmt: skip
_WORK_URBAN_MID: dict[str, float] = {
    "KARYAWAN SWASTA": 38, "WIRASWASTA": 22, "PEDAGANG": 8, "BURUH HARIAN LEPAS": 7, "SOPIR": 4,
    "KARYAWAN HONORER": 3, "TENTARA NASIONAL INDONESIA": 1.2, "KEPOLISIAN RI": 1.5,
    "KARYAWAN BUMN": 1.5, "KARYAWAN BUMD": 0.5, "MEKANIK": 1.5, "TRANSPORTASI": 1.5,
    "BELUM/TIDAK BEKERJA": 7, "LAINNYA": 2,
}  # fmt: skip
_WORK_URBAN_HIGH: dict[str, float] = {
    "KARYAWAN SWASTA": 42, "WIRASWASTA": 14, "GURU": 6, "DOSEN": 1, "DOKTER": 1, "PERAWAT": 2,
    "APOTEKER": 0.5, "KARYAWAN BUMN": 5, "KARYAWAN BUMD": 1, "KARYAWAN HONORER": 5,
    "TENTARA NASIONAL INDONESIA": 1, "KEPOLISIAN RI": 1.5, "PENGACARA": 0.6, "AKUNTAN": 1.2,
    "ARSITEK": 0.4, "KONSULTAN": 1, "WARTAWAN": 0.4, "BELUM/TIDAK BEKERJA": 7, "PEDAGANG": 3,
    "LAINNYA": 2,
}  # fmt: skip
WORK = {
    (False, 0): _WORK_RURAL_LOW,
    (False, 1): _WORK_RURAL_MID,
    (False, 2): _WORK_RURAL_HIGH,
    (True, 0): _WORK_URBAN_LOW,
    (True, 1): _WORK_URBAN_MID,
    (True, 2): _WORK_URBAN_HIGH,
}
FEMALE_FACTOR: dict[str, float] = {
    "PETANI/PEKEBUN": 0.5, "BURUH TANI/PERKEBUNAN": 0.7, "NELAYAN/PERIKANAN": 0.05,
    "BURUH NELAYAN/PERIKANAN": 0.1, "SOPIR": 0.02, "TUKANG BATU": 0.01, "TUKANG KAYU": 0.02,
    "MEKANIK": 0.05, "TENTARA NASIONAL INDONESIA": 0.1, "KEPOLISIAN RI": 0.2, "TRANSPORTASI": 0.1,
    "KONSTRUKSI": 0.1, "TUKANG JAHIT": 4, "PEDAGANG": 1.6, "GURU": 1.8, "PERAWAT": 2.5,
    "PEMBANTU RUMAH TANGGA": 6, "PERANGKAT DESA": 0.4, "KEPALA DESA": 0.2,
    "USTADZ/MUBALIGH": 0.3, "PENDETA": 0.3, "BURUH HARIAN LEPAS": 0.6,
}  # fmt: skip
# Weight of MENGURUS RUMAH TANGGA for women by schooling band, married or not.
HOMEMAKER = {True: (70.0, 50.0, 25.0), False: (8.0, 6.0, 3.0)}
MIDWIFE = {False: 3.0, True: 1.5}  # BIDAN weight for highly schooled women, rural/urban

_OLD_LOW: dict[str, float] = {
    "BELUM/TIDAK BEKERJA": 40, "PETANI/PEKEBUN": 25, "WIRASWASTA": 10, "PEDAGANG": 6,
    "BURUH HARIAN LEPAS": 5, "BURUH TANI/PERKEBUNAN": 4, "PENSIUNAN": 3, "LAINNYA": 2,
}  # fmt: skip
_OLD_HIGH: dict[str, float] = {
    "PENSIUNAN": 50, "BELUM/TIDAK BEKERJA": 25, "WIRASWASTA": 15, "PETANI/PEKEBUN": 5,
    "PEDAGANG": 3, "LAINNYA": 2,
}  # fmt: skip
OLD_WORK: dict[int, dict[str, float]] = {
    0: _OLD_LOW,
    1: {**_OLD_LOW, "PENSIUNAN": 15},
    2: _OLD_HIGH,
}

# Sector (lapangan usaha) by occupation, for Regsosek.
LAPANGAN_USAHA = (
    "PERTANIAN TANAMAN PADI DAN PALAWIJA",
    "HORTIKULTURA",
    "PERKEBUNAN",
    "PERIKANAN",
    "PETERNAKAN",
    "INDUSTRI PENGOLAHAN",
    "KONSTRUKSI",
    "PERDAGANGAN",
    "PENYEDIAAN AKOMODASI DAN MAKAN MINUM",
    "TRANSPORTASI DAN PERGUDANGAN",
    "JASA KEUANGAN",
    "ADMINISTRASI PEMERINTAHAN",
    "JASA PENDIDIKAN",
    "JASA KESEHATAN",
    "JASA LAINNYA",
)
_FARM: dict[int, float] = {0: 50, 1: 15, 2: 35}
_ANY: dict[int, float] = {5: 25, 6: 10, 7: 25, 8: 10, 9: 5, 10: 3, 14: 22}
SECTOR_BY_WORK: dict[str, dict[int, float]] = {
    "PETANI/PEKEBUN": _FARM,
    "BURUH TANI/PERKEBUNAN": _FARM,
    "PETERNAK": {4: 1},
    "NELAYAN/PERIKANAN": {3: 1},
    "BURUH NELAYAN/PERIKANAN": {3: 1},
    "INDUSTRI": {5: 1},
    "KONSTRUKSI": {6: 1},
    "TUKANG BATU": {6: 1},
    "TUKANG KAYU": {6: 6, 5: 4},
    "TUKANG JAHIT": {5: 1},
    "TRANSPORTASI": {9: 1},
    "SOPIR": {9: 1},
    "MEKANIK": {14: 6, 9: 4},
    "PEDAGANG": {7: 1},
    "WIRASWASTA": {7: 45, 8: 20, 5: 15, 14: 15, 9: 5},
    "KARYAWAN SWASTA": {5: 35, 7: 25, 10: 5, 9: 5, 8: 10, 6: 5, 14: 15},
    "BURUH HARIAN LEPAS": {6: 40, 0: 15, 2: 10, 5: 10, 7: 10, 14: 15},
    "KARYAWAN BUMN": {10: 40, 9: 20, 5: 20, 14: 20},
    "KARYAWAN BUMD": {10: 40, 14: 60},
    "KARYAWAN HONORER": {11: 50, 12: 35, 13: 15},
    "PEGAWAI NEGERI SIPIL": {11: 1},
    "TENTARA NASIONAL INDONESIA": {11: 1},
    "KEPOLISIAN RI": {11: 1},
    "PERANGKAT DESA": {11: 1},
    "KEPALA DESA": {11: 1},
    "GURU": {12: 1},
    "DOSEN": {12: 1},
    "DOKTER": {13: 1},
    "BIDAN": {13: 1},
    "PERAWAT": {13: 1},
    "APOTEKER": {13: 1},
    "PEMBANTU RUMAH TANGGA": {14: 1},
    "LAINNYA": _ANY,
}

STATUS_BEKERJA = ("BEKERJA", "TIDAK BEKERJA", "SEKOLAH", "MENGURUS RUMAH TANGGA")
DISABILITAS = ("TIDAK ADA", "FISIK", "SENSORIK", "INTELEKTUAL", "MENTAL", "GANDA")
DISABILITY_TYPES = (45, 25, 10, 10, 10)

# Housing: category weights at desil 1 and desil 10, interpolated linearly in between.
HOUSING: dict[
    str, tuple[tuple[str, ...], dict[str, tuple[tuple[float, ...], tuple[float, ...]]]]
] = {
    "status_kepemilikan_rumah": (
        ("MILIK SENDIRI", "KONTRAK/SEWA", "BEBAS SEWA", "DINAS", "LAINNYA"),
        {
            "rural": ((82, 4, 12, 0, 2), (84, 8, 3, 4, 1)),
            "urban": ((62, 22, 14, 0, 2), (72, 20, 3, 4, 1)),
        },
    ),
    "jenis_lantai": (
        (
            "MARMER/GRANIT",
            "KERAMIK",
            "UBIN/TEGEL",
            "SEMEN",
            "KAYU/PAPAN",
            "BAMBU",
            "TANAH",
            "LAINNYA",
        ),
        {"all": ((0, 12, 6, 40, 16, 3, 22, 1), (14, 78, 4, 3, 1, 0, 0, 0))},
    ),
    "jenis_dinding": (
        ("TEMBOK", "PLESTERAN ANYAMAN BAMBU", "KAYU/PAPAN", "ANYAMAN BAMBU", "BAMBU", "LAINNYA"),
        {"all": ((42, 6, 30, 14, 6, 2), (96, 0, 4, 0, 0, 0))},
    ),
    "jenis_atap": (
        (
            "BETON",
            "GENTENG",
            "SENG",
            "ASBES",
            "KAYU/SIRAP",
            "BAMBU",
            "JERAMI/IJUK/RUMBIA",
            "LAINNYA",
        ),
        {
            "java": ((0, 75, 8, 12, 1, 1, 2, 1), (12, 78, 3, 7, 0, 0, 0, 0)),
            "other": ((0, 5, 72, 6, 4, 2, 10, 1), (8, 12, 72, 8, 0, 0, 0, 0)),
        },
    ),
    "sumber_air_minum": (
        (
            "AIR KEMASAN",
            "LEDENG",
            "SUMUR BOR/POMPA",
            "SUMUR TERLINDUNG",
            "SUMUR TAK TERLINDUNG",
            "MATA AIR",
            "AIR PERMUKAAN",
            "AIR HUJAN",
            "LAINNYA",
        ),
        {
            "rural": ((8, 6, 18, 28, 14, 14, 8, 3, 1), (40, 12, 30, 12, 2, 3, 0, 1, 0)),
            "urban": ((30, 15, 25, 18, 5, 3, 2, 1, 1), (70, 12, 15, 3, 0, 0, 0, 0, 0)),
        },
    ),
    "fasilitas_bab": (
        ("SENDIRI", "BERSAMA", "UMUM", "TIDAK ADA"),
        {"all": ((62, 14, 6, 18), (98, 2, 0, 0))},
    ),
    "sumber_penerangan": (
        ("LISTRIK PLN METERAN", "LISTRIK PLN TANPA METERAN", "LISTRIK NON-PLN", "BUKAN LISTRIK"),
        {"all": ((78, 14, 5, 3), (99.5, 0.5, 0, 0))},
    ),
    "bahan_bakar_memasak": (
        ("LISTRIK", "GAS", "MINYAK TANAH", "KAYU BAKAR", "LAINNYA"),
        {
            "rural": ((0.2, 45, 2, 52, 0.8), (4, 93, 1, 2, 0)),
            "urban": ((0.5, 75, 4, 20, 0.5), (6, 93, 1, 0, 0)),
        },
    ),
}
# Probability of owning each asset at desil 1 and desil 10, and the curve's steepness
# (a car is rare until the top deciles).
ASSETS = {
    "memiliki_lemari_es": (0.15, 0.88, 1.0),
    "memiliki_sepeda_motor": (0.45, 0.9, 0.7),
    "memiliki_mobil": (0.004, 0.5, 3.0),
}
LAND = {"rural": (0.5, 0.6), "urban": (0.1, 0.35)}

# DTKS: share of households in each desil (1–4) registered, and programme take-up.
DTKS_COVERAGE = (0.92, 0.85, 0.72, 0.55)
PBI_JK = (0.95, 0.9, 0.8, 0.6)
BPNT = (0.8, 0.6, 0.35, 0.15)
PKH = (0.6, 0.4, 0.15, 0.05)  # among households with children, elderly or disabled members

# Addresses. Multi-word entries are written with "_" so that split() keeps them whole.


def words(text: str) -> tuple[str, ...]:
    return tuple(w.replace("_", " ") for w in text.split())


JALAN = words("""
MAWAR MELATI ANGGREK KENANGA CEMPAKA DAHLIA FLAMBOYAN BOUGENVILLE KAMBOJA TERATAI MERDEKA
PAHLAWAN SUDIRMAN DIPONEGORO AHMAD_YANI GATOT_SUBROTO IMAM_BONJOL KARTINI HASANUDDIN
PATTIMURA GAJAH_MADA HAYAM_WURUK TEUKU_UMAR RADEN_SALEH SILIWANGI PEMUDA VETERAN
PROKLAMASI KH._AHMAD_DAHLAN RAYA MANGGA RAMBUTAN DURIAN NANGKA SAWO JAMBU KELAPA BERINGIN
CEMARA MAHONI JATI DELIMA SUKAJADI SUKAMAJU MEKAR_SARI HARAPAN MERANTI RAJAWALI CENDRAWASIH
MERPATI KENARI NURI ELANG GARUDA SETIA_BUDI BANGAU KUTILANG PELITA KAMPUS PASAR STASIUN
PERINTIS_KEMERDEKAAN SISINGAMANGARAJA CUT_NYAK_DIEN DR._WAHIDIN KI_HAJAR_DEWANTARA
""")
KOMPLEK = words("""
PERUMNAS GRIYA_ASRI BUMI_INDAH TAMAN_SARI PERMATA_HIJAU PURI_INDAH GRAHA_PERMAI VILLA_MUTIARA
BUMI_ASRI GRIYA_PERMATA TAMAN_RAHAYU PONDOK_INDAH_PERMAI BUMI_MAS CITRA_ASRI KORPRI
""")
DUSUN = words("""
KRAJAN KRAJAN_I KRAJAN_II SUMBER WETAN KULON LOR KIDUL TENGAH BARAT TIMUR SUKAMAJU SUKARAME
MEKARSARI MARGA_MULYA SIDOMULYO SIDOREJO KARANGANYAR TEGALSARI SUMBERSARI MULYOREJO BANJARSARI
PASAR PANTAI SUKAJAYA SUKAMULYA KARANG_REJO TANJUNG PONDOK GUNUNG_SARI MEKAR_JAYA
""")
KAMPUNG = words("""
CIBODAS CIKONENG SUKAMANAH BABAKAN CIJERUK PASIR_ANGIN CIMANGGU SUKAHURIP LEUWIMALANG
CIKADU SINDANGSARI CIBEUREUM NAGRAK MUARA PASANGGRAHAN SUKASARI
""")
BANJAR = words("TENGAH KAJA KELOD KANGIN KAUH ANYAR DANGIN_PEKEN DAUH_PEKEN PEMAKSAN TEGAL")
JORONG = words("KOTO_TANGAH PASA BALAI_BARU LUBUK TALAO SUNGAI_PUA PADANG_LUAR BUKIK_TUI")
