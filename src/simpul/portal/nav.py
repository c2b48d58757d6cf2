"""Which pages exist, which roles may open them, and which grants make a service page worth
offering: one table, read by the route guards and by the navigation. A capability adds its
pages here and a router in `install`.

A page with `needs` is offered (in the menu, on the dashboard) only when the policy would
allow at least one of them for the signed-in account now (`simpul.portal.web.offered`):
the menu follows the agreements' grants, not the role alone (docs/adr/0030)."""

from __future__ import annotations

from dataclasses import dataclass

from simpul.access.schemas import Role
from simpul.agreements.schemas import Mechanism, Service

ALL = frozenset(Role)
SERVICE = frozenset({Role.OPERATOR, Role.DATA_USER})
ADMINS = frozenset({Role.HUB_ADMIN, Role.PROVIDER_ADMIN, Role.RECIPIENT_ADMIN})
READERS = ADMINS | {Role.AUDITOR}
AUDIT = frozenset({Role.HUB_ADMIN, Role.PROVIDER_ADMIN, Role.AUDITOR})


@dataclass(frozen=True)
class Need:
    """A grant a page serves: the service by one of these mechanisms, on `dataset` (None:
    on any dataset the institution receives the service for)."""

    service: Service
    mechanisms: tuple[Mechanism, ...]
    dataset: str | None = None


@dataclass(frozen=True)
class Page:
    key: str  # message key "nav.<key>" labels it
    path: str
    roles: frozenset[Role]
    nav: bool = True
    needs: tuple[Need, ...] = ()  # offered when the policy allows any (empty: always)


WS, WP = (Mechanism.WEB_SERVICE,), (Mechanism.WEB_PORTAL,)
LISTS = (Mechanism.BATCH, Mechanism.WEB_SERVICE)  # how a pemadanan job is decided
# Matching workflows (simpul.pemadanan.service.WORKFLOWS): the ASN screenings are status
# checks of a list, the general and Regsosek workflows are pemadanan grants.
MATCHING = (
    Need(Service.CEK_STATUS, LISTS, "asn"),
    Need(Service.PEMADANAN, LISTS),
)
REGSOSEK = tuple(
    Need(s, WP, "regsosek")
    for s in (Service.AGREGAT, Service.MIKRO, Service.BNBA, Service.PENGOLAHAN)
)


PAGES: dict[str, Page] = {
    p.key: p
    for p in [
        Page("beranda", "/portal/beranda", ALL),
        Page("keamanan", "/portal/keamanan", ALL, nav=False),  # linked from the header
        Page(
            "akses_nik",
            "/portal/layanan/akses-nik",
            SERVICE,
            needs=(Need(Service.AKSES_NIK, WP, "kependudukan"),),
        ),
        Page(
            "verifikasi",
            "/portal/layanan/verifikasi",
            SERVICE,
            needs=(Need(Service.VERIFIKASI, WS, "kependudukan"),),
        ),
        Page(
            "verifikasi_wajah",
            "/portal/layanan/verifikasi-wajah",
            SERVICE,
            needs=(Need(Service.VERIFIKASI_WAJAH, WS, "kependudukan"),),
        ),
        Page(
            "cek_status",
            "/portal/layanan/cek-status",
            SERVICE,
            needs=(Need(Service.CEK_STATUS, WS),),
        ),
        Page("pemadanan", "/portal/pemadanan", SERVICE, needs=MATCHING),
        Page("pemadanan_detail", "/portal/pemadanan/{job_id}", SERVICE, nav=False),
        Page("regsosek", "/portal/regsosek", SERVICE, needs=REGSOSEK),
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


def page_of_service(service: Service, mechanism: Mechanism) -> Page | None:
    """The portal page that serves a grant, for the dashboard's links."""
    for page in PAGES.values():
        if page.nav and any(service is n.service and mechanism in n.mechanisms
                            for n in page.needs):  # fmt: skip
            return page
    return None
