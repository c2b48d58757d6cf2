"""problem+json everywhere (issue 17): Starlette's and FastAPI's own refusals — unknown
path, wrong method, an unparsable body, 413, any HTTPException, an unhandled error — answer
RFC 9457 problem+json with a stable `code` and an Indonesian `detail`, while the portal keeps
its HTML pages; and the OpenAPI schema documents every refusal of every API operation."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.exceptions import HTTPException

from simpul.app import create_app
from simpul.db import make_engine, run_migrations
from simpul.errors import PROBLEM_MEDIA_TYPE, PROBLEM_SCHEMA_NAME
from tests.conftest import build_settings

PROBLEM_REF = f"#/components/schemas/{PROBLEM_SCHEMA_NAME}"


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> FastAPI:
    """No storage is involved in these answers: one SQLite instance for the module."""
    folder: Path = tmp_path_factory.mktemp("problems")
    settings = build_settings(folder)
    engine = make_engine(settings)
    run_migrations(engine)
    engine.dispose()
    app = create_app(settings)

    @app.get("/uji/http/{status}", include_in_schema=False)
    def raise_http(status: int) -> None:
        raise HTTPException(status_code=status)

    @app.get("/uji/galat", include_in_schema=False)
    def crash() -> None:
        raise RuntimeError("boom")

    return app


@pytest.fixture(scope="module")
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def _problem(resp: Any, status: int, code: str) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"] == PROBLEM_MEDIA_TYPE
    body: dict[str, Any] = resp.json()
    assert body["status"] == status
    assert body["code"] == code
    assert body["type"] == f"https://simpul.go.id/problems/{code}"
    assert "detail" in body and "title" in body
    return body


@pytest.mark.parametrize("path", ["/tidak-ada", "/api/v1/tidak-ada", "/api/v1/datasets"])
def test_unknown_path_is_a_404_problem(client: TestClient, path: str) -> None:
    """Was FastAPI's `{"detail": "Not Found"}`."""
    body = _problem(client.get(path), 404, "tidak_ditemukan")
    assert body["detail"] == "Alamat tidak ditemukan."
    assert body["instance"] == path


def test_a_nik_in_an_unknown_path_is_masked(client: TestClient) -> None:
    body = _problem(client.get("/api/v1/lain/3273015203900001/x"), 404, "tidak_ditemukan")
    assert "3273015203900001" not in str(body)
    assert body["instance"] == "/api/v1/lain/327301**********/x"


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("DELETE", "/api/v1/perjanjian", "GET"),
        ("GET", "/api/v1/datasets/kependudukan/verifikasi", "POST"),
        ("PUT", "/api/v1/token", "POST"),
    ],
)
def test_wrong_method_is_a_405_problem_with_allow(
    client: TestClient, method: str, path: str, allow: str
) -> None:
    """Was FastAPI's `{"detail": "Method Not Allowed"}`; the Allow header stays."""
    resp = client.request(method, path)
    body = _problem(resp, 405, "metode_tidak_diizinkan")
    assert body["detail"] == f"Metode {method} tidak diizinkan pada alamat ini."
    assert resp.headers["allow"] == allow


@pytest.mark.parametrize(
    ("path", "content", "content_type"),
    [
        # malformed JSON (FastAPI already refused it as a validation error: kept so)
        ("/api/v1/datasets/kependudukan/verifikasi", b'{"nik": ', "application/json"),
        ("/api/v1/datasets/kependudukan/verifikasi", b"\xff\xfe\x00", "application/json"),
        # a multipart body without its boundary: was a 400 `{"detail": "Missing boundary …"}`
        ("/api/v1/token", b"--x\r\nrusak", "multipart/form-data"),
        ("/api/v1/pemadanan", b"--x\r\nrusak", "multipart/form-data"),
    ],
)
def test_an_unparsable_body_is_a_422_problem(
    client: TestClient, path: str, content: bytes, content_type: str
) -> None:
    resp = client.post(
        path,
        content=content,
        headers={"content-type": content_type, "authorization": "Bearer salah"},
    )
    if resp.status_code == 401:  # the credential is checked before the file is read
        _problem(resp, 401, "kredensial_tidak_valid")
        return
    body = _problem(resp, 422, "permintaan_tidak_valid")
    assert body["detail"] in ("Isi permintaan tidak valid.", "Isi permintaan tidak terbaca.")


def test_the_form_body_of_the_token_endpoint_unparsable_is_a_422_problem(
    client: TestClient,
) -> None:
    resp = client.post(
        "/api/v1/token", content=b"--x\r\nrusak", headers={"content-type": "multipart/form-data"}
    )
    body = _problem(resp, 422, "permintaan_tidak_valid")
    assert body["detail"] == "Isi permintaan tidak terbaca."


@pytest.mark.parametrize(
    ("status", "code", "detail"),
    [
        (413, "permintaan_terlalu_besar", "Isi permintaan melebihi batas ukuran."),
        (415, "jenis_isi_tidak_didukung", "Jenis isi permintaan tidak didukung."),
        (429, "terlalu_banyak_permintaan", "Terlalu banyak permintaan; coba lagi nanti."),
        (418, "galat_http", "Permintaan tidak dapat dilayani."),
    ],
)
def test_any_http_exception_is_a_problem(
    client: TestClient, status: int, code: str, detail: str
) -> None:
    body = _problem(client.get(f"/uji/http/{status}"), status, code)
    assert body["detail"] == detail


def test_a_starlette_401_carries_the_challenge(client: TestClient) -> None:
    resp = client.get("/uji/http/401")
    _problem(resp, 401, "kredensial_tidak_ada")
    assert resp.headers["www-authenticate"].startswith("Bearer")


def test_an_unhandled_error_is_a_500_problem(client: TestClient) -> None:
    body = _problem(client.get("/uji/galat"), 500, "galat_server")
    assert body["detail"] == "Terjadi kesalahan pada server."
    assert "boom" not in str(body)


@pytest.mark.parametrize("path", ["/portal/tidak-ada", "/portal/static/tidak-ada.css"])
def test_the_portal_keeps_its_html_not_found_page(client: TestClient, path: str) -> None:
    resp = client.get(path)
    assert resp.status_code == 404
    assert resp.headers["content-type"].startswith("text/html")
    assert "Tidak ditemukan" in resp.text
    english = client.get(path, headers={"accept-language": "en"})
    assert english.status_code == 404 and english.headers["content-type"].startswith("text/html")


def test_the_portal_answers_a_wrong_method_with_its_html_page(client: TestClient) -> None:
    resp = client.put("/portal/masuk")
    assert resp.status_code == 405
    assert resp.headers["content-type"].startswith("text/html")
    assert "allow" in resp.headers


def _api_operations(app: FastAPI) -> list[tuple[str, str, dict[str, Any]]]:
    spec = app.openapi()
    return [
        (method.upper(), path, op)
        for path, ops in spec["paths"].items()
        if path.startswith("/api/")
        for method, op in ops.items()
    ]


def test_every_api_operation_documents_its_refusals_as_problem_json(app: FastAPI) -> None:
    spec = app.openapi()
    assert spec["components"]["schemas"][PROBLEM_SCHEMA_NAME]["required"] == [
        "type", "title", "status", "code", "detail",
    ]  # fmt: skip
    operations = _api_operations(app)
    assert len(operations) >= 30
    missing: list[str] = []
    for method, path, op in operations:
        responses = op["responses"]
        wanted = {"401", "422"}
        if path != "/api/v1/token":  # every other operation is decided for an agreement
            wanted |= {"403", "429"}
        if "{" in path:  # it names something that may not exist
            wanted.add("404")
        if "requestBody" in op:
            wanted.add("413")
        if op.get("deprecated"):  # retired: refused for everyone, nothing is decided
            wanted = {"410"}
        missing += [f"{method} {path}: {s}" for s in sorted(wanted - set(responses))]
        for status, response in responses.items():
            if status.startswith(("4", "5")):
                content = response.get("content", {})
                assert list(content) == [PROBLEM_MEDIA_TYPE], (method, path, status)
                assert content[PROBLEM_MEDIA_TYPE]["schema"] == {"$ref": PROBLEM_REF}
        if "401" in wanted:
            challenge = responses["401"]["headers"]["WWW-Authenticate"]
            assert challenge["required"] is True
    assert missing == []
    # FastAPI's English validation-error body is documented nowhere
    assert "HTTPValidationError" not in spec["components"]["schemas"]
