"""Every entry point of a node, classified. A route or command that is not in `ENTRIES`
fails the inventory test (tests/kernel/test_inventory.py) until someone decides what it is:

- `PUBLIC`: no credential and no data (health, the portal's sign-in page, static files);
- `AUTHENTICATION`: credentials in, a session or token out;
- `METADATA`: an authenticated read that holds no registry-derived data (agreements in
  force, a job's progress, deadlines);
- `GOVERNANCE`: a change of accounts, devices, agreements, registries — one action
  function that writes its own audit record in the same transaction;
- `DATA`: reads or discloses registry-derived data — one call of the kernel (`run`),
  decided, audited with the subjects it discloses, closed when the agreement stops.
- `LOCAL`: a command that works on files or the node's own set-up and reads no registry
  data of anyone's (generate a synthetic world, write sample photos, migrate).
"""

from __future__ import annotations

from collections.abc import Iterator
from enum import StrEnum
from typing import Any


class Kind(StrEnum):
    PUBLIC = "publik"
    AUTHENTICATION = "otentikasi"
    METADATA = "metadata"
    GOVERNANCE = "tata_kelola"
    DATA = "data"
    LOCAL = "lokal"


def http_entries(app: Any) -> Iterator[str]:
    """`"METHOD /path"` for every route the app answers (HEAD folded into GET), and
    `"MOUNT /path"` for mounted sub-apps."""
    yield from _walk_routes(app.routes)


def _walk_routes(routes: list[Any]) -> Iterator[str]:
    for route in routes:
        contexts = getattr(route, "effective_route_contexts", None)
        if contexts is not None:  # FastAPI ≥ 0.16x keeps included routers as one entry
            for ctx in contexts():
                for method in sorted(set(ctx.methods or ()) - {"HEAD"}):
                    yield f"{method} {ctx.path}"
            continue
        methods = getattr(route, "methods", None)
        if methods:
            for method in sorted(set(methods) - {"HEAD"}):
                yield f"{method} {route.path}"
        else:
            yield f"MOUNT {route.path}"


def cli_entries(command: Any, prefix: tuple[str, ...] = ()) -> Iterator[str]:
    """`"simpul group command"` for every leaf command of the Typer/click tree."""
    lister = getattr(command, "list_commands", None)
    if lister is None:
        yield " ".join(("simpul", *prefix))
        return
    from typer._click import Context  # typer ships its own click

    ctx = Context(command)
    names = lister(ctx)
    if not names and prefix:  # a group that runs as one command (its callback)
        yield " ".join(("simpul", *prefix))
    for name in names:
        yield from cli_entries(command.get_command(ctx, name), (*prefix, name))


P, A, M, G, D, L = (Kind.PUBLIC, Kind.AUTHENTICATION, Kind.METADATA, Kind.GOVERNANCE,
                    Kind.DATA, Kind.LOCAL)  # fmt: skip

# One table for every entry point of the node. Keep it sorted by surface.
ENTRIES: dict[str, Kind] = {
    # -- operations and documentation
    "GET /": P,
    "GET /healthz": P,
    "GET /readyz": P,
    "GET /metrics": P,
    "GET /openapi.json": P,
    "GET /docs": P,
    "GET /docs/oauth2-redirect": P,
    "GET /redoc": P,
    "GET /favicon.ico": P,
    "MOUNT /portal/static": P,
    "MOUNT /docs/static": P,  # Swagger UI's assets (simpul.apidocs)
    # -- web services (API)
    "POST /api/v1/token": A,
    "POST /api/v1/datasets/{dataset}/verifikasi": D,
    "POST /api/v1/datasets/{dataset}/verifikasi/batch": D,
    "POST /api/v1/datasets/{dataset}/cek-status": D,
    "POST /api/v1/datasets/{dataset}/cek-status/batch": D,
    "POST /api/v1/datasets/{dataset}/akses-nik": D,
    # Retired look-up by URL (issue 17): always 410, reads nothing, needs no credential.
    "GET /api/v1/datasets/{dataset}/nik/{nik}": P,
    "POST /api/v1/datasets/{dataset}/verifikasi-wajah": D,
    "GET /api/v1/perjanjian": M,
    # The log as the node publishes it (kernel calls marked `publishes`, ADR 0014).
    "GET /api/v1/audit/checkpoint": M,
    "GET /api/v1/audit/bukti-konsistensi": M,
    "GET /api/v1/audit/bukti-inklusi": M,
    "POST /api/v1/audit/kosignatur": M,
    "POST /api/v1/audit/riwayat-subjek": D,
    # -- pemadanan (API)
    "POST /api/v1/pemadanan": D,
    "GET /api/v1/pemadanan": M,
    "GET /api/v1/pemadanan/{job_id}": M,
    "POST /api/v1/pemadanan/{job_id}/batal": M,
    "GET /api/v1/pemadanan/{job_id}/hasil": D,
    "GET /api/v1/pemadanan/{job_id}/galat": D,
    "GET /api/v1/pemadanan/{job_id}/hasil.csv": D,
    "GET /api/v1/pemadanan/{job_id}/daftar/{nama}.csv": D,
    "POST /api/v1/pemadanan/{job_id}/hasil/{baris}/tinjau": D,
    "GET /api/v1/pemadanan/{job_id}/berita-acara.pdf": D,
    # -- obligations (API)
    "GET /api/v1/kewajiban": M,
    "POST /api/v1/perjanjian/{agreement_id}/data-balikan": D,
    "GET /api/v1/perjanjian/{agreement_id}/data-balikan": D,
    "GET /api/v1/perjanjian/{agreement_id}/data-balikan/terlambat": M,
    "GET /api/v1/perjanjian/{agreement_id}/laporan-penggunaan": M,
    # -- Regsosek tiers (API)
    "POST /api/v1/datasets/regsosek/agregat": D,
    "POST /api/v1/datasets/regsosek/mikro": D,
    "POST /api/v1/datasets/regsosek/bnba": D,
    "GET /api/v1/datasets/regsosek/ekstrak/{ekstrak_id}": D,
    "POST /api/v1/datasets/regsosek/pengolahan": D,
    "GET /api/v1/datasets/regsosek/pengolahan/{output_id}": D,
    "GET /api/v1/datasets/regsosek/tinjauan": D,
    "POST /api/v1/datasets/regsosek/tinjauan/{output_id}": D,
    # -- portal: sign-in and home
    "GET /portal": P,
    "GET /portal/": P,
    "GET /portal/masuk": P,
    "POST /portal/masuk": A,
    "POST /portal/keluar": A,
    # the second factor: a pending session gives its code or enrols (simpul.portal.second_factor)
    "GET /portal/masuk/kode": A,
    "POST /portal/masuk/kode": A,
    "GET /portal/masuk/daftar-kode": A,
    "POST /portal/masuk/daftar-kode": A,
    "GET /portal/keamanan": M,
    "POST /portal/keamanan/daftar": G,
    "POST /portal/keamanan/kode-pemulihan": G,
    "GET /portal/bahasa/{lang}": P,
    "GET /portal/beranda": M,
    # -- portal: services (a GET is the empty form)
    "GET /portal/layanan/akses-nik": M,
    "POST /portal/layanan/akses-nik": D,
    "GET /portal/layanan/verifikasi": M,
    "POST /portal/layanan/verifikasi": D,
    "GET /portal/layanan/cek-status": M,
    "POST /portal/layanan/cek-status": D,
    "GET /portal/layanan/verifikasi-wajah": M,
    "POST /portal/layanan/verifikasi-wajah": D,
    # -- portal: pemadanan
    "GET /portal/pemadanan": M,
    "POST /portal/pemadanan": D,
    "GET /portal/pemadanan/{job_id}": D,
    "POST /portal/pemadanan/{job_id}/batal": M,
    "POST /portal/pemadanan/{job_id}/tinjau/{line}": D,
    "GET /portal/pemadanan/{job_id}/unduh/{nama}.csv": D,
    "GET /portal/pemadanan/{job_id}/berita-acara.pdf": D,
    # -- portal: Regsosek
    "GET /portal/regsosek": M,
    "POST /portal/regsosek/agregat": D,
    "POST /portal/regsosek/{tier}": D,
    "GET /portal/regsosek/ekstrak/{extract_id}": D,
    "GET /portal/tinjauan-keluaran": D,
    "POST /portal/tinjauan-keluaran/{output_id}": D,
    # -- portal: obligations
    "GET /portal/kewajiban": M,
    "POST /portal/kewajiban/data-balikan": D,
    "POST /portal/kewajiban/laporan-semester": G,
    "GET /portal/perjanjian/{agreement_id}/laporan-penggunaan": M,
    "POST /portal/kewajiban/evaluasi": G,
    "GET /portal/kewajiban/{agreement_id}/data-balikan.csv": D,
    "POST /portal/kewajiban/dipenuhi": G,
    # -- portal: administration
    "GET /portal/perjanjian": M,
    "GET /portal/perjanjian/{agreement_id}": M,
    "GET /portal/perjanjian/{agreement_id}/konfirmasi/{verb}": M,  # the second step
    "POST /portal/perjanjian/{agreement_id}/{verb}": G,
    "GET /portal/akun": M,
    "POST /portal/akun": G,
    "GET /portal/akun/{username}/konfirmasi/{verb}": M,  # the second step of a revocation
    "POST /portal/akun/{username}/{verb}": G,
    "GET /portal/perangkat": M,
    "POST /portal/perangkat": G,
    "POST /portal/perangkat/{serial}/{verb}": G,
    # -- portal: audit
    "GET /portal/audit": M,
    "GET /portal/audit/verifikasi": M,
    "GET /portal/audit/subjek": M,
    "POST /portal/audit/subjek": D,
    # -- CLI
    "simpul init": L,
    "simpul version": L,
    "simpul demo": L,
    "simpul serve": L,
    "simpul registry load": G,
    "simpul registry issues": M,
    "simpul registry stats": M,
    "simpul registry snapshot": G,
    "simpul registry export": D,
    "simpul registry generate": L,
    "simpul registry sample-list": L,
    "simpul agreement load": G,
    "simpul agreement addendum": G,
    "simpul agreement list": M,
    "simpul agreement show": M,
    "simpul agreement suspend": G,
    "simpul agreement resume": G,
    "simpul agreement terminate": G,
    "simpul agreement sign": G,
    "simpul agreement activate": G,
    "simpul agreement expire": G,
    "simpul institution load-seed": G,
    "simpul institution list": M,
    "simpul institution show": M,
    "simpul institution rename": G,
    "simpul account create": G,
    "simpul account list": M,
    "simpul account revoke": G,
    "simpul account reset-secret": G,
    "simpul account reset-second-factor": G,
    "simpul account demo-code": L,
    "simpul device register": G,
    "simpul device activate": G,
    "simpul device deactivate": G,
    "simpul device list": M,
    "simpul audit verify": M,
    "simpul audit subject": D,
    "simpul audit proof": M,
    "simpul audit checkpoint": G,
    # The witness's own side works on its folder; the node's side governs who may cosign.
    "simpul audit witness init": L,
    "simpul audit witness follow": L,
    "simpul audit witness run": L,
    "simpul audit witness show": L,
    "simpul audit witness add": G,
    "simpul audit witness remove": G,
    "simpul audit witness list": M,
    "simpul audit key show": L,
    "simpul audit key rotate": G,
    # Receipts (docs/receipts.md): the node's public receipt key, and an offline check of a
    # receipt against a key, a request and a body given to it — no registry data read.
    "simpul audit receipt key": L,
    "simpul audit receipt verify": L,
    "simpul match": D,
    # The worker is a process; each job step it runs is one kernel call (pemadanan.runner).
    "simpul worker": L,
    "simpul pemadanan status": M,
    "simpul face enrol": G,
    "simpul face remove": G,
    "simpul face stats": M,
    "simpul face reindex": G,
    "simpul face compare": L,
    "simpul face verify": D,
    "simpul face samples": L,
    "simpul obligations list": M,
    "simpul obligations due": M,
    "simpul obligations notify": G,
    "simpul obligations record": G,
    "simpul obligations event": G,
    "simpul obligations enforce": G,
    "simpul obligations rule": G,
    "simpul obligations evaluate": G,
    "simpul obligations feedback status": M,
    "simpul obligations feedback overdue": M,
    "simpul obligations feedback upload": D,
    "simpul obligations feedback download": D,
    "simpul obligations report usage": M,
    "simpul obligations report submit": G,
    "simpul obligations report summary": M,
    "simpul obligations report berita-acara": M,
    "simpul regsosek agregat": D,
    "simpul regsosek mikro": D,
    "simpul regsosek bnba": D,
    "simpul regsosek olah": D,
    "simpul regsosek tinjauan": D,
    "simpul regsosek tinjau": D,
    "simpul regsosek aturan": G,
    "simpul retensi jalankan": G,
    # Federation (docs/federation.md). The authority's commands work on its own folder (its
    # key, its CA, its member list, the signed file); the node's listener is a process whose
    # every data call is one kernel call (its routes below).
    "simpul federation authority init": L,
    "simpul federation authority key": L,
    "simpul federation authority issue": L,
    "simpul federation authority member-add": L,
    "simpul federation authority member-remove": L,
    "simpul federation authority members": L,
    "simpul federation authority sign": L,
    "simpul federation show": L,
    "simpul federation serve": L,
    "simpul federation directory": L,
    # -- the federation listener (mutual TLS; the caller is a member node's account)
    "POST /federasi/v1/datasets/{dataset}/verifikasi": D,
    "POST /federasi/v1/datasets/{dataset}/verifikasi/batch": D,
    "POST /federasi/v1/datasets/{dataset}/cek-status": D,
    "POST /federasi/v1/datasets/{dataset}/cek-status/batch": D,
    "POST /federasi/v1/datasets/{dataset}/akses-nik": D,
    "GET /federasi/v1/direktori": M,
    # Agreement state between nodes (simpul.federation.agreements): the provider's states
    # for the calling member; a provider's notice, one governance action.
    "GET /federasi/v1/perjanjian": M,
    "POST /federasi/v1/perjanjian/pemberitahuan": G,
}
