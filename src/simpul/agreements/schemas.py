"""The agreement (PKS) and addendum documents: Indonesian YAML keys, English attributes.

Shape only lives here (types, required keys, closed vocabularies, `extra="forbid"`);
checks that need the registry definitions or cross-reference keys live in `checks.py`,
so that every problem can be reported against the exact key that causes it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    StringConstraints,
    field_validator,
    model_validator,
)

from simpul.agreements.lifecycle import Term, end_of_term

# ---------------------------------------------------------------- vocabularies


class Service(StrEnum):
    VERIFIKASI = "verifikasi"  # element verification: sesuai / tidak_sesuai, never values
    CEK_STATUS = "cek_status"  # "ASN" + instansi / data_tidak_ditemukan
    AKSES_NIK = "akses_nik"  # look-up by NIK: granted elements (portal, IKD)
    VERIFIKASI_WAJAH = "verifikasi_wajah"  # face photo → similarity score
    PEMADANAN = "pemadanan"  # bulk matching of the recipient's list
    AGREGAT = "agregat"  # disclosure-controlled aggregate tables
    MIKRO = "mikro"  # pseudonymised microdata
    BNBA = "bnba"  # by name by address, region-scoped
    PENGOLAHAN = "pengolahan"  # processing facility with output checking


class Mechanism(StrEnum):
    WEB_SERVICE = "web_service"
    WEB_PORTAL = "web_portal"
    CARD_READER = "card_reader"
    BATCH = "batch"


class FeedbackBasis(StrEnum):
    EVERY_ACCESSED = "setiap_nik_diakses"  # every NIK looked at (PKS 003 Pasal 2(2)c)
    EVERY_FOUND = "setiap_nik_ditemukan"  # only records found, e.g. confirmed ASN (PKS 004)


class AccountKind(StrEnum):
    USER_ID_PASSWORD = "user_id_password"  # noqa: S105 — an account kind, not a secret
    AKUN_SEPAKAT = "akun_sepakat"


class ProhibitionKind(StrEnum):
    STORAGE = "penyimpanan"
    THIRD_PARTY_DISCLOSURE = "pengungkapan_pihak_ketiga"
    OTHER_USE = "penggunaan_di_luar_tujuan"


class TriggerKind(StrEnum):
    MUTUAL_AGREEMENT = "kesepakatan_para_pihak"
    NOMENCLATURE_CHANGE = "perubahan_nomenklatur"
    BREACH_OF_DUTY = "pelanggaran_kewajiban"
    CHANGE_OF_LAW = "perubahan_peraturan"
    MISUSE = "penyalahgunaan_data"


class EndEffectKind(StrEnum):
    DEACTIVATE_DEVICES = "penonaktifan_perangkat"
    CLOSE_ACCESS = "penutupan_akses"


# Result vocabulary per service, verbatim from the PKS ("ASN" comes from the dataset).
RESULTS: dict[Service, tuple[str, ...]] = {
    Service.VERIFIKASI: ("sesuai", "tidak_sesuai", "data_tidak_ditemukan"),
    Service.VERIFIKASI_WAJAH: ("nilai_kemiripan", "data_tidak_ditemukan"),
    Service.AKSES_NIK: ("data_tidak_ditemukan",),
    Service.CEK_STATUS: ("data_tidak_ditemukan",),
}
# Services answering about one person by their key (NIK).
KEYED_SERVICES = frozenset(
    {Service.VERIFIKASI, Service.VERIFIKASI_WAJAH, Service.AKSES_NIK, Service.CEK_STATUS}
)
# Verification never discloses a stored value.
NON_DISCLOSING = frozenset({Service.VERIFIKASI, Service.VERIFIKASI_WAJAH})
# Derived output: the family members on the same KK (PKS 003 Pasal 2(1)c).
FAMILY_MEMBERS = "anggota_keluarga"

# ---------------------------------------------------------------- scalar types

Ident = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]*$", max_length=80)]
InstitutionCode = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]*$", max_length=40)]
Clause = Annotated[str, StringConstraints(pattern=r"^Pasal \d+", max_length=400)]
Text = Annotated[str, StringConstraints(min_length=1, strip_whitespace=True)]

_PERIOD = re.compile(r"^\s*(\d+)\s*(hari|bulan|tahun)\s*$")
Unit = Literal["hari", "bulan", "tahun"]
_UNITS: dict[str, Unit] = {"hari": "hari", "bulan": "bulan", "tahun": "tahun"}


@dataclass(frozen=True)
class Period:
    """A span written as the PKS write it: "30 hari", "2 bulan", "3 tahun"."""

    amount: int
    unit: Unit

    def __str__(self) -> str:
        return f"{self.amount} {self.unit}"


def _parse_period(value: Any) -> Period:
    if isinstance(value, Period):
        return value
    if isinstance(value, str) and (m := _PERIOD.match(value)) and int(m.group(1)) > 0:
        return Period(int(m.group(1)), _UNITS[m.group(2)])
    raise ValueError("harus berupa jangka seperti '30 hari', '2 bulan' atau '3 tahun'")


Durasi = Annotated[Period, PlainValidator(_parse_period), PlainSerializer(str, return_type=str)]


def _as_tuple(value: Any) -> Any:
    """`oleh: bkn` is read as `oleh: [bkn]`."""
    return (value,) if isinstance(value, str) else value


Codes = Annotated[tuple[InstitutionCode, ...], BeforeValidator(_as_tuple)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


# ---------------------------------------------------------------- parts


class Party(_Model):
    code: InstitutionCode = Field(alias="kode")
    designation: Text = Field(alias="sebutan")  # PIHAK KESATU / PIHAK PERTAMA / PIHAK KEDUA
    name: Text = Field(alias="nama")
    number: Text | None = Field(default=None, alias="nomor")  # this party's document number
    signatory: Text | None = Field(default=None, alias="penandatangan")
    position: Text | None = Field(default=None, alias="jabatan")
    address: Text | None = Field(default=None, alias="alamat")
    # The C2SP verifier key of this party's node's audit-log checkpoint key
    # (`simpul audit key show`): the key the other party's witness pins (docs/audit.md).
    log_key: Text | None = Field(default=None, alias="kunci_log")

    @field_validator("log_key")
    @classmethod
    def _log_key(cls, value: str | None) -> str | None:
        if value is None:
            return None
        from simpul.audit.note import ALG_ED25519, parse_verifier_key

        try:
            verifier = parse_verifier_key(value.strip())
        except ValueError as exc:
            raise ValueError(f"kunci_log bukan kunci verifikasi C2SP yang sah: {exc}") from None
        if verifier.alg != ALG_ED25519:
            raise ValueError("kunci_log harus kunci Ed25519 log (jenis 0x01)")
        return value.strip()


class ClauseText(_Model):
    clause: Clause = Field(alias="pasal")
    text: Text = Field(alias="uraian")


class TermSpec(_Model):
    clause: Clause = Field(alias="pasal")
    start: date | None = Field(default=None, alias="mulai")  # default: the signing date
    end: date | None = Field(default=None, alias="berakhir")
    duration: Durasi | None = Field(default=None, alias="durasi")
    renewable: bool = Field(default=False, alias="dapat_diperpanjang")


class Facilities(_Model):
    """How access is delivered: access points, accounts, devices (the policy checks these)."""

    clause: Clause = Field(alias="pasal")
    access_points: int | None = Field(default=None, ge=1, alias="titik_akses")
    closed_network: bool = Field(default=False, alias="jaringan_tertutup")
    accounts: AccountKind | None = Field(default=None, alias="akun")
    account_per_user: bool = Field(default=False, alias="akun_per_pengguna")
    daily_operator: bool = Field(default=False, alias="operator_harian")
    card_readers: bool = Field(default=False, alias="pembaca_ktp_el")
    description: Text | None = Field(default=None, alias="uraian")


class Quota(_Model):
    per_day: int | None = Field(default=None, ge=1, alias="per_hari")
    per_minute: int | None = Field(default=None, ge=1, alias="per_menit")


class MatchThresholds(_Model):
    """Pemadanan under a grant: a probable match at or above `terima` is `cocok` without
    review; between `tinjau` and `terima` it is `kemungkinan_cocok`, for a reviewer."""

    accept: float = Field(default=0.95, gt=0, le=1, alias="terima")
    review: float = Field(default=0.5, gt=0, le=1, alias="tinjau")

    @model_validator(mode="after")
    def _ordered(self) -> MatchThresholds:
        if self.review > self.accept:
            raise ValueError("ambang tinjau tidak boleh di atas ambang terima")
        return self


class Grant(_Model):
    """One right of one recipient to one service on one provider's dataset."""

    id: Ident
    clause: Clause = Field(alias="pasal")
    provider: InstitutionCode = Field(alias="penyedia")
    recipient: InstitutionCode = Field(alias="penerima")
    dataset: str
    service: Service = Field(alias="layanan")
    mechanism: Mechanism = Field(alias="mekanisme")
    input_elements: tuple[str, ...] = Field(default=(), alias="elemen_masukan")
    output_elements: tuple[str, ...] = Field(default=(), alias="elemen_keluaran")
    results: tuple[str, ...] = Field(default=(), alias="hasil")
    region_scope: tuple[str, ...] | None = Field(default=None, alias="cakupan_wilayah")
    purpose: Text = Field(alias="tujuan")
    quota: Quota | None = Field(default=None, alias="kuota")
    thresholds: dict[str, Annotated[float, Field(ge=0, le=100)]] = Field(
        default_factory=dict, alias="ambang_kemiripan"
    )
    return_score: bool = Field(default=False, alias="tampilkan_skor")
    match_thresholds: MatchThresholds | None = Field(default=None, alias="ambang_pemadanan")
    # Pemadanan lists under this grant: at most this many data rows / this many MB
    # (the node's own limits apply where these are unset or higher).
    max_rows: int | None = Field(default=None, alias="batas_baris", ge=1)
    max_upload_mb: int | None = Field(default=None, alias="batas_ukuran_mb", ge=1)
    on_request: bool = Field(default=False, alias="atas_permohonan")
    notes: Text | None = Field(default=None, alias="catatan")

    @property
    def is_national(self) -> bool:
        return self.region_scope is None

    def covers_region(self, code: str) -> bool:
        """Whether a region code (province … village) lies inside the grant's scope."""
        return self.region_scope is None or any(code.startswith(p) for p in self.region_scope)


class _Duty(_Model):
    id: Ident
    clause: Clause = Field(alias="pasal")
    by: Codes = Field(alias="oleh", min_length=1)  # obligor(s)
    to: InstitutionCode | None = Field(default=None, alias="kepada")
    description: Text | None = Field(default=None, alias="uraian")


class FeedbackDuty(_Duty):
    kind: Literal["data_balikan"] = Field(alias="jenis")
    dataset: str
    elements: tuple[str, ...] = Field(alias="elemen", min_length=1)
    basis: FeedbackBasis = Field(default=FeedbackBasis.EVERY_ACCESSED, alias="untuk")
    due: Durasi | None = Field(default=None, alias="tenggat")  # after each access
    grants: tuple[Ident, ...] = Field(default=(), alias="hibah")  # empty: all grants to `by`
    channel: Text | None = Field(default=None, alias="melalui")


class SemesterReportDuty(_Duty):
    kind: Literal["laporan_semester"] = Field(alias="jenis")
    due_months: tuple[Annotated[int, Field(ge=1, le=12)], ...] = Field(
        alias="bulan_tenggat", min_length=1
    )
    on_demand: bool = Field(default=False, alias="sewaktu_waktu")


class EvaluationDuty(_Duty):
    kind: Literal["evaluasi"] = Field(alias="jenis")
    per_year: int | None = Field(default=None, ge=1, alias="frekuensi_per_tahun")
    on_demand: bool = Field(default=False, alias="sewaktu_waktu")


class MinutesDuty(_Duty):
    kind: Literal["berita_acara"] = Field(alias="jenis")
    per_year: int | None = Field(default=None, ge=1, alias="frekuensi_per_tahun")  # None: once
    grants: tuple[Ident, ...] = Field(default=(), alias="hibah")


class ImplementationDuty(_Duty):
    kind: Literal["implementasi_teknis"] = Field(alias="jenis")
    due: Durasi = Field(alias="tenggat")  # counted from signing


class RenewalNoticeDuty(_Duty):
    kind: Literal["pemberitahuan_perpanjangan"] = Field(alias="jenis")
    due: Durasi = Field(alias="tenggat")  # at the latest this long before the end date


class ForceMajeureDuty(_Duty):
    kind: Literal["keadaan_kahar"] = Field(alias="jenis")
    days: int = Field(ge=1, alias="batas_hari")  # after the event starts


class AddressChangeDuty(_Duty):
    kind: Literal["perubahan_alamat"] = Field(alias="jenis")
    days: int = Field(ge=1, alias="batas_hari")  # before the change takes effect


class OtherDuty(_Duty):
    kind: Literal["lainnya"] = Field(alias="jenis")
    description: Text = Field(alias="uraian")
    due: Durasi | None = Field(default=None, alias="tenggat")


Duty = Annotated[
    FeedbackDuty
    | SemesterReportDuty
    | EvaluationDuty
    | MinutesDuty
    | ImplementationDuty
    | RenewalNoticeDuty
    | ForceMajeureDuty
    | AddressChangeDuty
    | OtherDuty,
    Field(discriminator="kind"),
]
DUTY_KINDS = (
    "data_balikan",
    "laporan_semester",
    "evaluasi",
    "berita_acara",
    "implementasi_teknis",
    "pemberitahuan_perpanjangan",
    "keadaan_kahar",
    "perubahan_alamat",
    "lainnya",
)


class Prohibition(_Model):
    id: Ident
    clause: Clause = Field(alias="pasal")
    kind: ProhibitionKind = Field(alias="jenis")
    bound: Codes = Field(alias="berlaku_bagi", min_length=1)
    dataset: str | None = None
    survives_term: bool = Field(default=False, alias="berlaku_setelah_berakhir")
    exceptions: tuple[Text, ...] = Field(default=(), alias="pengecualian")
    description: Text | None = Field(default=None, alias="uraian")


class Trigger(_Model):
    """A ground on which the agreement ends early (or access is closed)."""

    id: Ident
    clause: Clause = Field(alias="pasal")
    kind: TriggerKind = Field(alias="jenis")
    party: Codes = Field(default=(), alias="pihak")  # whose change or breach
    by: Codes = Field(default=(), alias="oleh")  # who may act on it
    duties: tuple[Ident, ...] = Field(default=(), alias="kewajiban")
    outcome: Literal["diakhiri", "ditangguhkan"] = Field(default="diakhiri", alias="tindakan")
    notice: Durasi | None = Field(default=None, alias="pemberitahuan")
    description: Text | None = Field(default=None, alias="uraian")


class EndEffect(_Model):
    id: Ident
    clause: Clause = Field(alias="pasal")
    kind: EndEffectKind = Field(alias="jenis")
    description: Text | None = Field(default=None, alias="uraian")


# ---------------------------------------------------------------- documents


class Retention(_Model):
    """How long outputs the node keeps for a recipient (pemadanan results and minutes,
    extracts, processing outputs, feedback files) may stay before they are deleted. PKS 003
    Pasal 2(2)h forbids keeping population data that was accessed; a stored output is only
    a delivery, available while the agreement is in force and at most this long."""

    clause: Clause = Field(alias="pasal")
    days: int = Field(ge=1, le=3650, alias="hari")
    description: Text | None = Field(default=None, alias="uraian")


# Without a `retensi` clause a stored output is kept this long (a delivery, not an archive).
DEFAULT_RETENTION_DAYS = 30


class AgreementDocument(_Model):
    id: Ident
    title: Text = Field(alias="judul")
    parties: tuple[Party, ...] = Field(alias="pihak", min_length=2)
    purpose: ClauseText = Field(alias="maksud_tujuan")
    legal_bases: tuple[Text, ...] = Field(alias="dasar_hukum", min_length=1)
    memorandum: Text | None = Field(default=None, alias="nota_kesepahaman")
    signed_on: date | None = Field(default=None, alias="tanggal_tanda_tangan")
    place: Text | None = Field(default=None, alias="tempat")
    initial_state: Literal["draf", "ditandatangani", "berlaku"] | None = Field(
        default=None, alias="status_awal"
    )
    term: TermSpec = Field(alias="jangka_waktu")
    facilities: Facilities | None = Field(default=None, alias="sarana_akses")
    grants: tuple[Grant, ...] = Field(default=(), alias="hibah")
    duties: tuple[Duty, ...] = Field(default=(), alias="kewajiban")
    prohibitions: tuple[Prohibition, ...] = Field(default=(), alias="larangan")
    retention: Retention | None = Field(default=None, alias="retensi")
    triggers: tuple[Trigger, ...] = Field(default=(), alias="pengakhiran")
    end_effects: tuple[EndEffect, ...] = Field(default=(), alias="akibat_berakhir")
    addendum_clause: Clause | None = Field(default=None, alias="pasal_adendum")
    notes: Text | None = Field(default=None, alias="catatan")

    @property
    def party_codes(self) -> tuple[str, ...]:
        return tuple(p.code for p in self.parties)

    def suspension_grounds(self) -> tuple[Trigger, ...]:
        """The grounds on which access may be closed, as the agreement's YAML cites them:
        its `pengakhiran` items with `tindakan: ditangguhkan`; without one, the grounds of
        breach and misuse on which a party may act (what a suspension answers to)."""
        closing = tuple(t for t in self.triggers if t.outcome == "ditangguhkan")
        if closing:
            return closing
        acting = (TriggerKind.BREACH_OF_DUTY, TriggerKind.MISUSE)
        return tuple(t for t in self.triggers if t.kind in acting)

    @property
    def starts_on(self) -> date:
        start = self.term.start or self.signed_on
        if start is None:  # checks.py rejects such documents; guard direct construction
            raise ValueError("jangka_waktu.mulai atau tanggal_tanda_tangan wajib diisi")
        return start

    @property
    def ends_on(self) -> date:
        if self.term.end is not None:
            return self.term.end
        if self.term.duration is None:
            raise ValueError("jangka_waktu.berakhir atau jangka_waktu.durasi wajib diisi")
        return end_of_term(self.starts_on, self.term.duration.amount, self.term.duration.unit)

    @property
    def starting_state(self) -> str:
        if self.initial_state:
            return self.initial_state
        return "ditandatangani" if self.signed_on else "draf"

    def term_dates(self, version: int = 1, effective_from: date | None = None) -> Term:
        return Term(
            starts_on=self.starts_on,
            ends_on=self.ends_on,
            effective_from=effective_from or self.starts_on,
            version=version,
        )

    def grant(self, grant_id: str) -> Grant | None:
        return next((g for g in self.grants if g.id == grant_id), None)

    @property
    def retention_days(self) -> int:
        return self.retention.days if self.retention else DEFAULT_RETENTION_DAYS

    def to_data(self) -> dict[str, Any]:
        """The document as YAML/JSON data with Indonesian keys (stored per version)."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class TermChange(_Model):
    clause: Clause | None = Field(default=None, alias="pasal")
    start: date | None = Field(default=None, alias="mulai")
    end: date | None = Field(default=None, alias="berakhir")
    duration: Durasi | None = Field(default=None, alias="durasi")
    renewable: bool | None = Field(default=None, alias="dapat_diperpanjang")


# Sections an addendum may change item by item (YAML key → attribute on Changes).
CHANGEABLE_SECTIONS = ("hibah", "kewajiban", "larangan", "pengakhiran")
Item = dict[str, Any]


class Changes(_Model):
    """What an addendum changes. Items are checked once merged into the whole agreement."""

    term: TermChange | None = Field(default=None, alias="jangka_waktu")
    grants_added: tuple[Item, ...] = Field(default=(), alias="hibah_tambah")
    grants_changed: tuple[Item, ...] = Field(default=(), alias="hibah_ubah")
    grants_removed: tuple[Ident, ...] = Field(default=(), alias="hibah_hapus")
    duties_added: tuple[Item, ...] = Field(default=(), alias="kewajiban_tambah")
    duties_changed: tuple[Item, ...] = Field(default=(), alias="kewajiban_ubah")
    duties_removed: tuple[Ident, ...] = Field(default=(), alias="kewajiban_hapus")
    prohibitions_added: tuple[Item, ...] = Field(default=(), alias="larangan_tambah")
    prohibitions_changed: tuple[Item, ...] = Field(default=(), alias="larangan_ubah")
    prohibitions_removed: tuple[Ident, ...] = Field(default=(), alias="larangan_hapus")
    triggers_added: tuple[Item, ...] = Field(default=(), alias="pengakhiran_tambah")
    triggers_changed: tuple[Item, ...] = Field(default=(), alias="pengakhiran_ubah")
    triggers_removed: tuple[Ident, ...] = Field(default=(), alias="pengakhiran_hapus")
    notes: Text | None = Field(default=None, alias="catatan")


class AddendumDocument(_Model):
    id: Ident = Field(alias="adendum")
    agreement_id: Ident = Field(alias="perjanjian")
    title: Text = Field(alias="judul")
    numbers: tuple[Text, ...] = Field(default=(), alias="nomor")
    signed_on: date = Field(alias="tanggal_tanda_tangan")
    effective_from: date | None = Field(default=None, alias="berlaku_sejak")
    base_version: int | None = Field(default=None, ge=1, alias="versi_dasar")
    clause: Clause | None = Field(default=None, alias="pasal_dasar")
    reason: Text = Field(alias="alasan")
    demo: bool = False
    changes: Changes = Field(alias="perubahan")

    @property
    def takes_effect(self) -> date:
        return self.effective_from or self.signed_on
