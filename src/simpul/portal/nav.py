"""Which pages exist and which roles may open them: one table, read by the route guards
and by the navigation. A capability adds its pages here and a router in `install`."""

from __future__ import annotations

from dataclasses import dataclass

from simpul.access.schemas import Role

ALL = frozenset(Role)
SERVICE = frozenset({Role.OPERATOR, Role.DATA_USER})
ADMINS = frozenset({Role.HUB_ADMIN, Role.PROVIDER_ADMIN, Role.RECIPIENT_ADMIN})
READERS = ADMINS | {Role.AUDITOR}
AUDIT = frozenset({Role.HUB_ADMIN, Role.PROVIDER_ADMIN, Role.AUDITOR})


@dataclass(frozen=True)
class Page:
    key: str  # message key "nav.<key>" labels it
    path: str
    roles: frozenset[Role]
    nav: bool = True


PAGES: dict[str, Page] = {
    p.key: p
    for p in [
        Page("beranda", "/portal/beranda", ALL),
        Page("keamanan", "/portal/keamanan", ALL, nav=False),  # linked from the header
        Page("akses_nik", "/portal/layanan/akses-nik", SERVICE),
        Page("verifikasi", "/portal/layanan/verifikasi", SERVICE),
        Page("verifikasi_wajah", "/portal/layanan/verifikasi-wajah", SERVICE),
        Page("cek_status", "/portal/layanan/cek-status", SERVICE),
        Page("pemadanan", "/portal/pemadanan", SERVICE),
        Page("pemadanan_detail", "/portal/pemadanan/{job_id}", SERVICE, nav=False),
        Page("regsosek", "/portal/regsosek", SERVICE),
        Page("kewajiban", "/portal/kewajiban", ALL),
        Page("tinjauan", "/portal/tinjauan-keluaran", frozenset({Role.PROVIDER_ADMIN})),
        Page("perjanjian", "/portal/perjanjian", READERS),
        Page("perjanjian_detail", "/portal/perjanjian/{agreement_id}", READERS, nav=False),
        Page(
            "perjanjian_tindakan",
            "/portal/perjanjian/{agreement_id}/{verb}",
            frozenset({Role.HUB_ADMIN, Role.PROVIDER_ADMIN}),
            nav=False,
        ),
        Page("akun", "/portal/akun", ADMINS),
        Page("perangkat", "/portal/perangkat", ADMINS),
        Page("audit", "/portal/audit", AUDIT),
        Page("audit_verifikasi", "/portal/audit/verifikasi", AUDIT),
        Page("audit_subjek", "/portal/audit/subjek", AUDIT),
    ]
}


def nav_for(role: Role) -> list[Page]:
    return [p for p in PAGES.values() if p.nav and role in p.roles]
