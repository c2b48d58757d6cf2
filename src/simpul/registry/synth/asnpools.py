"""Civil-service reference data: agencies, work units, positions, ranks and degrees.

Agency names are the real public institutions (post-2024 cabinet nomenclature). Unit
templates use {KAB} (regency/city as listed), {KABS} (without the Kabupaten/Kota prefix),
{KEC}, {KEL}, {PROV} and {N} (a school or office number).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Agency:
    name: str
    weight: float  # relative size of its workforce among central agencies
    units: tuple[str, ...]
    functional: tuple[str, ...]  # functional positions its analysts/technicians hold
    degree: tuple[str, ...] = ("S.E.", "S.Sos.", "S.H.", "S.Kom.", "S.I.P.")


KEMENSOS = "Kementerian Sosial"
KEMENAG = "Kementerian Agama"
KEMENKES = "Kementerian Kesehatan"
KEMDIKTI = "Kementerian Pendidikan Tinggi, Sains, dan Teknologi"

AGENCIES: tuple[Agency, ...] = (
    Agency(
        KEMENAG,
        20,
        (
            "Kantor Kementerian Agama {KAB}",
            "KUA Kecamatan {KEC}",
            "Kantor Wilayah Kementerian Agama Provinsi {PROV}",
        ),
        ("Penyuluh Agama Islam", "Penghulu", "Analis Kebijakan", "Pranata Komputer"),
        ("S.Ag.", "S.H.I.", "S.Pd.I.", "S.Sos.I."),
    ),
    Agency(
        "Kementerian Keuangan",
        8,
        (
            "KPP Pratama {KABS}",
            "KPPN {KABS}",
            "Kantor Pelayanan Kekayaan Negara dan Lelang {KABS}",
            "Kantor Pengawasan dan Pelayanan Bea dan Cukai {KABS}",
        ),
        (
            "Pemeriksa Pajak",
            "Penilai Pemerintah",
            "Pranata Keuangan APBN",
            "Analis Keuangan Pusat dan Daerah",
        ),
        ("S.E.", "S.Ak.", "S.Tr.Ak.", "S.ST."),
    ),
    Agency(
        KEMENKES,
        3,
        (
            "Balai Besar Kekarantinaan Kesehatan {KABS}",
            "Politeknik Kesehatan Kementerian Kesehatan {PROV}",
        ),
        ("Epidemiolog Kesehatan", "Administrator Kesehatan", "Pranata Komputer"),
        ("S.K.M.", "S.Kep.", "S.Farm."),
    ),
    Agency(
        "Kementerian Imigrasi dan Pemasyarakatan",
        4,
        (
            "Lembaga Pemasyarakatan Kelas IIA {KABS}",
            "Rumah Tahanan Negara Kelas IIB {KABS}",
            "Kantor Imigrasi Kelas I {KABS}",
        ),
        ("Pembimbing Kemasyarakatan", "Analis Keimigrasian", "Penjaga Tahanan"),
        ("S.H.", "A.Md.P."),
    ),
    Agency(
        "Kementerian Hukum",
        1.5,
        ("Kantor Wilayah Kementerian Hukum {PROV}",),
        ("Analis Hukum", "Perancang Peraturan Perundang-undangan"),
        ("S.H.",),
    ),
    Agency(
        "Mahkamah Agung",
        3,
        ("Pengadilan Negeri {KABS}", "Pengadilan Agama {KABS}"),
        ("Analis Perkara Peradilan", "Pranata Peradilan", "Arsiparis"),
        ("S.H.", "S.H.I."),
    ),
    Agency(
        "Kejaksaan Republik Indonesia",
        2.5,
        ("Kejaksaan Negeri {KABS}", "Kejaksaan Tinggi {PROV}"),
        ("Analis Penuntutan", "Pranata Komputer", "Arsiparis"),
        ("S.H.",),
    ),
    Agency(
        "Kementerian Agraria dan Tata Ruang/Badan Pertanahan Nasional",
        2,
        ("Kantor Pertanahan {KAB}", "Kantor Wilayah Badan Pertanahan Nasional Provinsi {PROV}"),
        ("Penata Kadastral", "Surveyor Pemetaan", "Penata Pertanahan"),
        ("S.T.", "S.SiT.", "S.H."),
    ),
    Agency(
        "Kementerian Perhubungan",
        2,
        (
            "Kantor Unit Penyelenggara Pelabuhan {KABS}",
            "Kantor Unit Penyelenggara Bandar Udara {KABS}",
            "Balai Pengelola Transportasi Darat {PROV}",
        ),
        ("Penguji Kendaraan Bermotor", "Teknisi Penerbangan", "Inspektur Angkutan Udara"),
        ("S.T.", "S.Tr.T.", "A.Md."),
    ),
    Agency(
        "Kementerian Pekerjaan Umum",
        1.5,
        ("Balai Besar Wilayah Sungai {PROV}", "Balai Pelaksanaan Jalan Nasional {PROV}"),
        ("Teknik Jalan dan Jembatan", "Teknik Pengairan", "Pengelola Pengadaan Barang/Jasa"),
        ("S.T.", "S.T.", "A.Md.T."),
    ),
    Agency(
        "Kementerian Pertanian",
        1.5,
        ("Balai Penerapan Standar Instrumen Pertanian {PROV}", "Balai Karantina Pertanian {KABS}"),
        ("Penyuluh Pertanian", "Pengawas Benih Tanaman", "Analis Perkarantinaan Tumbuhan"),
        ("S.P.", "S.Pt.", "S.TP."),
    ),
    Agency(
        "Badan Pusat Statistik",
        1.5,
        ("BPS {KAB}", "BPS Provinsi {PROV}"),
        ("Statistisi", "Pranata Komputer"),
        ("S.Tr.Stat.", "S.ST.", "S.Si.", "S.E."),
    ),
    Agency(
        "Badan Kepegawaian Negara",
        0.4,
        (
            "Kantor Regional BKN {PROV}",
            "Direktorat Pengadaan dan Kepangkatan",
            "Direktorat Pengolahan Data dan Penyajian Informasi",
        ),
        ("Analis Sumber Daya Manusia Aparatur", "Pranata Komputer", "Auditor Kepegawaian"),
        ("S.Psi.", "S.Sos.", "S.Kom.", "S.A.P."),
    ),
    Agency(
        "Badan Pengawasan Keuangan dan Pembangunan",
        0.6,
        ("Perwakilan BPKP Provinsi {PROV}",),
        ("Auditor",),
        ("S.E.", "S.Ak.", "S.Tr.Ak."),
    ),
    Agency(
        "Badan Pemeriksa Keuangan",
        0.7,
        ("BPK Perwakilan Provinsi {PROV}",),
        ("Pemeriksa",),
        ("S.E.", "S.Ak.", "S.H."),
    ),
    Agency(
        "Badan Pengawas Obat dan Makanan",
        0.4,
        ("Balai Besar POM di {KABS}", "Loka POM di {KAB}"),
        ("Pengawas Farmasi dan Makanan",),
        ("S.Farm.", "S.Si."),
    ),
    Agency(
        "Badan Meteorologi, Klimatologi, dan Geofisika",
        0.4,
        ("Stasiun Meteorologi {KABS}", "Stasiun Klimatologi {PROV}"),
        ("Pengamat Meteorologi dan Geofisika",),
        ("S.Tr.", "S.Si."),
    ),
    Agency(
        "Badan Riset dan Inovasi Nasional",
        1,
        (
            "Pusat Riset Kependudukan",
            "Pusat Riset Ekonomi",
            "Pusat Riset Kesejahteraan Sosial, Desa, dan Konektivitas",
        ),
        ("Peneliti", "Perekayasa"),
        ("S.Si.", "S.T.", "S.E."),
    ),
    Agency(
        KEMENSOS,
        0.8,
        (
            "Pusat Data dan Informasi Kesejahteraan Sosial",
            "Sekretariat Jenderal",
            "Direktorat Jenderal Perlindungan dan Jaminan Sosial",
            "Direktorat Jenderal Rehabilitasi Sosial",
            "Direktorat Jenderal Pemberdayaan Sosial",
            "Sentra Rehabilitasi Sosial {KABS}",
        ),
        ("Pekerja Sosial", "Penyuluh Sosial", "Analis Kebijakan", "Pranata Komputer"),
        ("S.Sos.", "S.Tr.Sos.", "S.Psi."),
    ),
    Agency(
        "Kementerian Dalam Negeri",
        0.5,
        (
            "Direktorat Jenderal Kependudukan dan Pencatatan Sipil",
            "Direktorat Jenderal Bina Keuangan Daerah",
            "Badan Strategi Kebijakan Dalam Negeri",
        ),
        (
            "Administrator Database Kependudukan",
            "Analis Kebijakan",
            "Analis Keuangan Pusat dan Daerah",
        ),
        ("S.I.P.", "S.STP.", "S.Sos."),
    ),
    Agency(
        "Kementerian Koperasi",
        0.1,
        ("Deputi Bidang Usaha Koperasi", "Sekretariat Kementerian"),
        ("Analis Kebijakan", "Penggerak Swadaya Masyarakat"),
        ("S.E.", "S.Sos."),
    ),
    Agency(
        "Kementerian Usaha Mikro, Kecil, dan Menengah",
        0.1,
        ("Deputi Bidang Usaha Mikro",),
        ("Analis Kebijakan",),
        ("S.E.",),
    ),
    Agency(
        "Kementerian Ketenagakerjaan",
        0.3,
        ("Balai Pelatihan Vokasi dan Produktivitas {KABS}",),
        ("Pengantar Kerja", "Pengawas Ketenagakerjaan", "Instruktur"),
        ("S.E.", "S.Psi."),
    ),
    Agency(
        "Kementerian Kehutanan",
        1,
        ("Balai Konservasi Sumber Daya Alam {PROV}", "Balai Taman Nasional {PROV}"),
        ("Polisi Kehutanan", "Penyuluh Kehutanan", "Pengendali Ekosistem Hutan"),
        ("S.Hut.",),
    ),
    Agency(
        "Kementerian Lingkungan Hidup",
        0.2,
        ("Pusat Pengendalian Lingkungan Hidup {PROV}",),
        ("Pengendali Dampak Lingkungan",),
        ("S.T.", "S.Si."),
    ),
    Agency(
        "Kementerian Kelautan dan Perikanan",
        0.6,
        ("Pelabuhan Perikanan Nusantara {KABS}",),
        ("Penyuluh Perikanan", "Pengawas Perikanan"),
        ("S.Pi.", "S.St.Pi."),
    ),
    Agency(
        "Kementerian Perdagangan",
        0.2,
        ("Balai Pengawasan Tertib Niaga {PROV}",),
        ("Analis Perdagangan", "Penera"),
        ("S.E.",),
    ),
    Agency(
        "Kementerian Perindustrian",
        0.3,
        ("Balai Standardisasi dan Pelayanan Jasa Industri {KABS}",),
        ("Pembina Industri", "Penguji Mutu Barang"),
        ("S.T.", "S.Si."),
    ),
    Agency(
        "Kementerian Energi dan Sumber Daya Mineral",
        0.3,
        ("Direktorat Jenderal Mineral dan Batubara",),
        ("Inspektur Tambang", "Penyelidik Bumi"),
        ("S.T.",),
    ),
    Agency(
        "Kementerian Luar Negeri",
        0.3,
        ("Direktorat Jenderal Asia Pasifik dan Afrika", "Biro Umum"),
        ("Diplomat", "Penata Kanselerai"),
        ("S.Sos.", "S.I.P.", "S.H."),
    ),
    Agency(
        "Kementerian Kependudukan dan Pembangunan Keluarga/BKKBN",
        0.4,
        ("Perwakilan BKKBN Provinsi {PROV}",),
        ("Penyuluh Keluarga Berencana",),
        ("S.Sos.", "S.K.M."),
    ),
    Agency(
        "Kementerian Desa dan Pembangunan Daerah Tertinggal",
        0.1,
        ("Direktorat Jenderal Pembangunan Desa dan Perdesaan",),
        ("Penggerak Swadaya Masyarakat", "Analis Kebijakan"),
        ("S.Sos.", "S.P."),
    ),
    Agency(
        "Kementerian Pendayagunaan Aparatur Negara dan Reformasi Birokrasi",
        0.05,
        ("Deputi Bidang Sumber Daya Manusia Aparatur",),
        ("Analis Kebijakan",),
        ("S.A.P.", "S.I.P."),
    ),
    Agency(
        "Kementerian Perencanaan Pembangunan Nasional/Bappenas",
        0.1,
        ("Kedeputian Bidang Pembangunan Manusia, Masyarakat, dan Kebudayaan",),
        ("Perencana",),
        ("S.E.", "S.T."),
    ),
    Agency(
        "Arsip Nasional Republik Indonesia",
        0.05,
        ("Direktorat Pengolahan",),
        ("Arsiparis",),
        ("S.Hum.", "A.Md."),
    ),
    Agency(
        "Badan Siber dan Sandi Negara",
        0.1,
        ("Direktorat Operasi Keamanan Siber",),
        ("Sandiman", "Manggala Informatika"),
        ("S.Kom.", "S.Tr.Kom."),
    ),
    Agency(
        "Badan Nasional Penanggulangan Bencana",
        0.05,
        ("Direktorat Kesiapsiagaan",),
        ("Analis Bencana",),
        ("S.T.", "S.Si."),
    ),
    Agency(
        KEMDIKTI,
        3,
        (
            "Perguruan Tinggi Negeri di Provinsi {PROV}",
            "Lembaga Layanan Pendidikan Tinggi Wilayah {PROV}",
        ),
        ("Dosen", "Pranata Laboratorium Pendidikan"),
        ("S.Pd.", "S.Si.", "S.T.", "S.E."),
    ),
)
AGENCY = {a.name: a for a in AGENCIES}

# Regional government (pemda) work units and the functional positions they employ.
PEMDA_UNITS = (
    "Sekretariat Daerah",
    "Dinas Pendidikan",
    "Dinas Kesehatan",
    "Dinas Sosial",
    "Dinas Kependudukan dan Pencatatan Sipil",
    "Badan Pendapatan Daerah",
    "Badan Perencanaan Pembangunan Daerah",
    "Inspektorat Daerah",
    "Dinas Pekerjaan Umum dan Penataan Ruang",
    "Dinas Pertanian",
    "Badan Kepegawaian Daerah",
    "Satuan Polisi Pamong Praja",
    "Dinas Perhubungan",
    "Badan Pengelolaan Keuangan dan Aset Daerah",
    "Dinas Lingkungan Hidup",
    "Sekretariat DPRD",
    "Dinas Koperasi dan Usaha Mikro",
    "Badan Penanggulangan Bencana Daerah",
    "Kecamatan {KEC}",
)
PEMDA_FUNCTIONAL = {
    "Sekretariat Daerah": ("Analis Kebijakan", "Analis Hukum", "Pranata Hubungan Masyarakat"),
    "Dinas Pendidikan": ("Pengawas Sekolah", "Analis Kebijakan"),
    "Dinas Kesehatan": ("Epidemiolog Kesehatan", "Administrator Kesehatan"),
    "Dinas Sosial": ("Pekerja Sosial", "Penyuluh Sosial"),
    "Dinas Kependudukan dan Pencatatan Sipil": ("Administrator Database Kependudukan",),
    "Badan Pendapatan Daerah": ("Analis Keuangan Pusat dan Daerah",),
    "Badan Perencanaan Pembangunan Daerah": ("Perencana", "Statistisi"),
    "Inspektorat Daerah": ("Auditor", "Pengawas Penyelenggaraan Urusan Pemerintahan di Daerah"),
    "Dinas Pekerjaan Umum dan Penataan Ruang": ("Teknik Jalan dan Jembatan", "Penata Ruang"),
    "Dinas Pertanian": ("Penyuluh Pertanian", "Pengendali Organisme Pengganggu Tumbuhan"),
    "Badan Kepegawaian Daerah": ("Analis Sumber Daya Manusia Aparatur",),
    "Satuan Polisi Pamong Praja": ("Polisi Pamong Praja",),
    "Dinas Perhubungan": ("Penguji Kendaraan Bermotor",),
    "Badan Pengelolaan Keuangan dan Aset Daerah": (
        "Analis Keuangan Pusat dan Daerah",
        "Penilai Pemerintah",
    ),
    "Dinas Lingkungan Hidup": ("Pengendali Dampak Lingkungan",),
    "Sekretariat DPRD": ("Arsiparis", "Analis Kebijakan"),
    "Dinas Koperasi dan Usaha Mikro": ("Penggerak Swadaya Masyarakat",),
    "Badan Penanggulangan Bencana Daerah": ("Analis Bencana",),
    "Kecamatan {KEC}": ("Pranata Komputer", "Arsiparis"),
}
# Functional positions with a skilled (terampil) track for diploma/upper-secondary staff.
SKILLED_TRACK = frozenset(
    (
        "Pranata Komputer",
        "Arsiparis",
        "Penyuluh Pertanian",
        "Polisi Pamong Praja",
        "Statistisi",
        "Penyuluh Sosial",
        "Pekerja Sosial",
        "Perawat",
        "Bidan",
        "Pranata Keuangan APBN",
        "Penjaga Tahanan",
        "Pengamat Meteorologi dan Geofisika",
        "Penguji Kendaraan Bermotor",
        "Polisi Kehutanan",
        "Penyuluh Kehutanan",
        "Penyuluh Perikanan",
        "Sanitarian",
        "Pranata Laboratorium Kesehatan",
        "Pranata Laboratorium Pendidikan",
        "Penata Kadastral",
        "Penera",
        "Teknisi Penerbangan",
        "Administrator Database Kependudukan",
        "Pranata Peradilan",
        "Surveyor Pemetaan",
    )
)
EXPERT_LEVELS = (
    "Ahli Pertama",
    "Ahli Pertama",
    "Ahli Muda",
    "Ahli Muda",
    "Ahli Madya",
    "Ahli Madya",
    "Ahli Madya",
    "Ahli Utama",
    "Ahli Utama",
)  # by rank from III/a
SKILLED_LEVELS = (
    "Pemula",
    "Terampil",
    "Terampil",
    "Terampil",
    "Mahir",
    "Mahir",
    "Penyelia",
    "Penyelia",
)  # by rank from II/a
LECTURER_LEVELS = (
    "Asisten Ahli",
    "Asisten Ahli",
    "Lektor",
    "Lektor",
    "Lektor Kepala",
    "Lektor Kepala",
    "Lektor Kepala",
    "Profesor",
    "Profesor",
)

# Ranks: PNS/CPNS golongan/ruang; PPPK golongan I–XVII.
GOLONGAN = (
    "I/a",
    "I/b",
    "I/c",
    "I/d",
    "II/a",
    "II/b",
    "II/c",
    "II/d",
    "III/a",
    "III/b",
    "III/c",
    "III/d",
    "IV/a",
    "IV/b",
    "IV/c",
    "IV/d",
    "IV/e",
)
III_A, II_A = 8, 4
# Starting rank and highest regular rank by SIAK schooling level (index 0..9).
START_RANK = (0, 0, 0, 2, 4, 5, 6, 8, 9, 10)
TOP_RANK = (3, 3, 5, 7, 10, 11, 11, 13, 14, 16)
PPPK_GOLONGAN = ("I", "I", "I", "IV", "V", "VI", "VII", "IX", "X", "XI")

STRUCTURAL = {
    "high": ("Kepala {UNIT}", "Sekretaris {UNIT}"),
    "middle": (
        "Kepala Bidang Program dan Evaluasi",
        "Kepala Bagian Umum",
        "Camat {KEC}",
        "Kepala Bidang Pelayanan",
    ),
    "low": (
        "Kepala Seksi Pelayanan",
        "Kepala Subbagian Umum dan Kepegawaian",
        "Kepala Subbagian Keuangan",
        "Kepala Seksi Pemerintahan",
        "Lurah {KEL}",
    ),
}
EXECUTIVE = {
    "high": (
        "Penata Layanan Operasional",
        "Penata Layanan Operasional",
        "Analis Data dan Informasi",
        "Penyusun Laporan Keuangan",
        "Analis Kepegawaian",
    ),
    "middle": (
        "Pengelola Layanan Operasional",
        "Pengelola Layanan Operasional",
        "Pengelola Data",
        "Bendahara",
    ),
    "low": (
        "Operator Layanan Operasional",
        "Operator Layanan Operasional",
        "Pengadministrasi Perkantoran",
        "Pengadministrasi Umum",
        "Pengemudi",
    ),
}

TEACHER_UNITS = {
    "kab": ("SD Negeri {N} {KEC}", "SD Negeri {N} {KEC}", "SMP Negeri {N} {KABS}"),
    "prov": ("SMA Negeri {N} {KABS}", "SMK Negeri {N} {KABS}"),
    "kemenag": ("MIN {N} {KABS}", "MTsN {N} {KABS}", "MAN {N} {KABS}"),
}
HEALTH_UNITS = {
    "kab": ("Puskesmas {KEC}", "Puskesmas {KEC}", "RSUD {KABS}"),
    "prov": ("Rumah Sakit Umum Daerah Provinsi {PROV}", "Dinas Kesehatan"),
    "kemenkes": ("Rumah Sakit Umum Pusat {PROV}", "Balai Besar Laboratorium Kesehatan {PROV}"),
}
# Degrees by field, written as in SIASN.
MASTERS = ("M.Si.", "M.M.", "M.A.P.", "M.H.", "M.Pd.", "M.Kes.", "M.T.", "M.Ak.", "M.E.")
DEGREE = {
    "guru": ("S.Pd.", "S.Pd.", "S.Pd.", "S.Pd.SD.", "S.Si."),
    "guru_agama": ("S.Pd.I.", "S.Ag.", "S.Pd."),
    "perawat": ("S.Kep., Ns.",),
    "perawat_d3": ("A.Md.Kep.",),
    "bidan": ("S.Tr.Keb.", "S.Keb."),
    "bidan_d3": ("A.Md.Keb.",),
    "sosial": ("S.Sos.", "S.Tr.Sos.", "S.Psi."),
    "umum": ("S.E.", "S.Sos.", "S.H.", "S.Kom.", "S.I.P.", "S.A.P.", "S.T.", "S.P."),
    "diploma": ("A.Md.", "A.Md.Kom.", "A.Md.Ak.", "A.Md.A.B."),
}
SPECIALIST = ("Sp.PD.", "Sp.A.", "Sp.OG.", "Sp.B.", "Sp.An.", "Sp.M.")
