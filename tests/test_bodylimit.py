"""Request bodies are bounded before anything reads them (issue 17). Found by an outside
test: a 95 MB unauthenticated JSON POST cost ~3 s and +477 MB before its 401."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from simpul.app import UPLOAD_PATHS, create_app
from simpul.config import Settings
from simpul.kit.bodylimit import UPLOAD_ENVELOPE, BodyLimit
from simpul.runtime import Runtime
from tests.conftest import build_settings

MB = 1024 * 1024
VERIFY_BATCH = "/api/v1/datasets/kependudukan/verifikasi/batch"


class Wire:
    """The server's side of one request: a body sent in chunks, and what the app asked for."""

    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = chunks
        self.reads = 0
        self.sent: list[dict[str, Any]] = []

    async def receive(self) -> dict[str, Any]:
        self.reads += 1
        if self.reads > len(self.chunks):
            return {"type": "http.disconnect"}
        more = self.reads < len(self.chunks)
        return {"type": "http.request", "body": self.chunks[self.reads - 1], "more_body": more}

    async def send(self, message: dict[str, Any]) -> None:
        self.sent.append(message)

    @property
    def status(self) -> int:
        return int(self.sent[0]["status"])

    @property
    def problem(self) -> dict[str, Any]:
        head = dict(self.sent[0]["headers"])
        assert head[b"content-type"] == b"application/problem+json"
        return dict(json.loads(b"".join(m.get("body", b"") for m in self.sent[1:])))


def _scope(path: str, length: int | None, method: str = "POST") -> dict[str, Any]:
    headers = [(b"content-type", b"application/json")]
    if length is not None:
        headers.append((b"content-length", str(length).encode()))
    return {"type": "http", "method": method, "path": path, "root_path": "", "headers": headers,
            "query_string": b"", "client": ("127.0.0.1", 5000), "server": ("t", 80),
            "scheme": "http", "http_version": "1.1"}  # fmt: skip


def _call(app: Any, scope: dict[str, Any], wire: Wire) -> Wire:
    asyncio.run(app(scope, wire.receive, wire.send))
    return wire


@pytest.fixture
def plain(tmp_path: Path) -> Settings:
    return build_settings(tmp_path / "inst")


def test_a_95_mb_unauthenticated_post_is_refused_unread(plain: Settings) -> None:
    """The whole app: 413 problem+json from the headers alone; the body is never asked for
    (no parsing, no credential check, no database)."""
    rt = Runtime(plain)
    app = create_app(plain, rt)
    for path in (VERIFY_BATCH, "/api/v1/token", "/api/v1/datasets/x/cek-status",
                 "/api/v1/datasets/3171011203900001/verifikasi"):  # fmt: skip
        wire = _call(app, _scope(path, 95 * MB), Wire([b"x" * MB] * 95))
        assert wire.status == 413
        assert wire.reads == 0, "the body was read"
        body = wire.problem
        assert body["code"] == "permintaan_terlalu_besar"
        assert body["batas_bita"] == plain.max_json_bytes
        assert "3171011203900001" not in json.dumps(body)  # `instance` masks a NIK
    assert rt._engine is None  # nothing touched the database
    rt.close()


def test_a_chunked_body_is_refused_as_soon_as_it_passes_the_limit(plain: Settings) -> None:
    app = create_app(plain, Runtime(plain))
    wire = _call(app, _scope(VERIFY_BATCH, None), Wire([b" " * MB] * 95))
    assert wire.status == 413
    assert wire.problem["code"] == "permintaan_terlalu_besar"
    # 4 MiB limit, 1 MiB chunks: the fifth chunk passes it, and nothing more is read.
    assert wire.reads == plain.max_json_bytes // MB + 1


def test_upload_routes_get_the_upload_limit(tmp_path: Path) -> None:
    s = build_settings(tmp_path / "inst").model_copy(update={"max_upload_bytes": 10 * MB})
    app = create_app(s, Runtime(s))
    limit = 10 * MB + UPLOAD_ENVELOPE
    # Over the JSON limit, within the upload one: not the middleware's to refuse (the route
    # answers: here the credential is missing).
    wire = _call(app, _scope("/api/v1/pemadanan", 8 * MB), Wire([b"x" * 8 * MB]))
    assert wire.status == 401
    wire = _call(app, _scope("/api/v1/pemadanan", limit + 1), Wire([b"x"]))
    assert (wire.status, wire.reads) == (413, 0)
    assert wire.problem["code"] == "berkas_terlalu_besar"
    assert wire.problem["batas_bita"] == limit


def test_every_upload_path_is_a_route(plain: Settings) -> None:
    """A renamed route would silently fall back to the JSON limit."""
    rt = Runtime(plain)
    rt.initialise()
    with TestClient(create_app(plain, rt), follow_redirects=False) as client:
        for pattern in UPLOAD_PATHS:
            resp = client.post(pattern.replace("[^/]+", "x"), content=b"")
            assert resp.status_code not in (404, 405), pattern
    rt.close()


def test_a_portal_page_answers_with_its_own_page(plain: Settings) -> None:
    rt = Runtime(plain)
    rt.initialise()
    app = create_app(plain, rt)
    scope = _scope("/portal/masuk", 95 * MB)
    scope["headers"][0] = (b"content-type", b"application/x-www-form-urlencoded")
    wire = _call(app, scope, Wire([b"x" * MB] * 95))
    assert wire.status == 413
    assert dict(wire.sent[0]["headers"])[b"content-type"].startswith(b"text/html")
    assert wire.reads == 0
    rt.close()


def test_a_full_batch_fits_comfortably(plain: Settings) -> None:
    """1,000 items with every element a verification can name, at realistic lengths: well
    under the limit, and the route (not the limit) answers."""
    item = {"nik": "3171011203900001", "elemen": {
        "nama_lengkap": "A" * 60, "tanggal_lahir": "1990-03-12", "tempat_lahir": "B" * 40,
        "jenis_kelamin": "PEREMPUAN", "nama_ibu_kandung": "C" * 60, "alamat": "D" * 120,
        "no_kk": "3171010101010001", "agama": "ISLAM", "status_kawin": "KAWIN",
        "pekerjaan": "E" * 40}}  # fmt: skip
    body = json.dumps({"item": [item] * 1000}).encode()
    assert len(body) * 4 < plain.max_json_bytes
    with TestClient(create_app(plain, Runtime(plain))) as client:
        resp = client.post(VERIFY_BATCH, content=body,
                           headers={"content-type": "application/json"})  # fmt: skip
    assert resp.status_code == 401  # no credential: the body was within its limit


async def _echo(scope: Any, receive: Any, send: Any) -> None:
    """An app that reads the whole body and answers its length."""
    size = 0
    while True:
        message = await receive()
        size += len(message.get("body", b""))
        if not message.get("more_body"):
            break
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": str(size).encode()})


@hsettings(max_examples=60, deadline=None)
@given(sizes=st.lists(st.integers(0, 40), min_size=1, max_size=12),
       declare=st.booleans())  # fmt: skip
def test_a_body_passes_if_and_only_if_it_is_within_the_limit(
    sizes: list[int], declare: bool
) -> None:
    limiter = BodyLimit(_echo, json_bytes=100, upload_bytes=0)  # type: ignore[arg-type]
    chunks = [b"x" * n for n in sizes]
    total = sum(sizes)
    wire = _call(limiter, _scope("/api/v1/x", total if declare else None), Wire(chunks))
    if total <= 100:
        assert (wire.status, wire.sent[1]["body"]) == (200, str(total).encode())
    else:
        assert wire.status == 413
        assert wire.problem["code"] == "permintaan_terlalu_besar"
        assert wire.reads == (0 if declare else next(
            i + 1 for i in range(len(sizes)) if sum(sizes[: i + 1]) > 100))  # fmt: skip
