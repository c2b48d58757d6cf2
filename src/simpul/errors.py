"""RFC 9457 problem details: a stable machine `code` and an Indonesian `detail`."""

from __future__ import annotations

from typing import Any

# The challenge of every 401 (RFC 9110 §11.6.1): both credential kinds are accepted.
AUTH_CHALLENGE = 'Bearer, Basic realm="simpul"'


class SimpulError(Exception):
    """An error a user can act on. `code` is stable; `detail` is Indonesian prose."""

    def __init__(
        self,
        code: str,
        detail: str,
        status: int = 400,
        title: str | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail
        self.status = status
        self.title = title or code.replace("_", " ").capitalize()
        self.extra = extra

    def headers(self) -> dict[str, str]:
        """The answer's headers beside the problem: the 401 challenge, and `Retry-After`
        for a refusal that says when to retry (`coba_lagi_detik`)."""
        out: dict[str, str] = {}
        if self.status == 401:
            out["WWW-Authenticate"] = AUTH_CHALLENGE
        retry = self.extra.get("coba_lagi_detik")
        if isinstance(retry, int):
            out["Retry-After"] = str(retry)
        return out

    def to_problem(self, instance: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": f"https://simpul.go.id/problems/{self.code}",
            "title": self.title,
            "status": self.status,
            "code": self.code,
            "detail": self.detail,
        }
        if instance:
            body["instance"] = instance
        body.update(self.extra)
        return body


class NotFound(SimpulError):
    def __init__(self, code: str, detail: str, **extra: Any) -> None:
        super().__init__(code, detail, status=404, **extra)


class Conflict(SimpulError):
    def __init__(self, code: str, detail: str, **extra: Any) -> None:
        super().__init__(code, detail, status=409, **extra)


class InvalidInput(SimpulError):
    def __init__(self, code: str, detail: str, status: int = 422, **extra: Any) -> None:
        super().__init__(code, detail, status=status, **extra)


# --- problem+json in the OpenAPI schema -------------------------------------------------

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_SCHEMA_NAME = "Problem"
PROBLEM_SCHEMA: dict[str, Any] = {
    "title": PROBLEM_SCHEMA_NAME,
    "type": "object",
    "description": "RFC 9457 problem details: `code` stabil, `detail` berbahasa Indonesia.",
    "required": ["type", "title", "status", "code", "detail"],
    "properties": {
        "type": {"type": "string", "format": "uri"},
        "title": {"type": "string"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "code": {"type": "string", "pattern": "^[a-z0-9_]+$"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
    },
    "additionalProperties": True,
}
# What each refusal of the API means, as the schema documents it.
PROBLEM_DESCRIPTIONS: dict[int, str] = {
    400: "Permintaan tidak dapat diproses (`code` menyebut sebabnya).",
    401: "Kredensial tidak ada atau tidak sah.",
    403: "Ditolak oleh perjanjian atau oleh kebijakan akses (`code` menyebut pasalnya).",
    404: "Tidak ditemukan (dataset, pekerjaan, berkas atau data yang diminta).",
    409: "Bertentangan dengan keadaan saat ini (mis. pekerjaan sudah selesai).",
    410: "Operasi usang yang tidak lagi dilayani (`metode_usang`); `pengganti` menyebut gantinya.",
    413: "Isi permintaan, berkas atau jumlah butir melebihi batas.",
    415: "Jenis isi tidak didukung.",
    422: "Permintaan tidak valid atau tidak terbaca (`permintaan_tidak_valid`).",
    429: "Kuota perjanjian atau batas laju terlampaui (`coba_lagi_detik`).",
    503: "Layanan sementara tidak tersedia (mis. log audit tidak dapat ditulis).",
}


def problem_responses(*statuses: int, **described: str) -> dict[int | str, dict[str, Any]]:
    """`responses=` of a route: each status documented as problem+json. `described` gives
    an operation's own description, keyed `s413="…"`."""
    ref = {"$ref": f"#/components/schemas/{PROBLEM_SCHEMA_NAME}"}
    out: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        response: dict[str, Any] = {
            "description": described.get(f"s{status}", PROBLEM_DESCRIPTIONS[status]),
            "content": {PROBLEM_MEDIA_TYPE: {"schema": ref}},
        }
        if status == 401:
            response["headers"] = {
                "WWW-Authenticate": {
                    "description": "Skema kredensial yang diterima (RFC 9110 §11.6.1).",
                    "required": True,
                    "schema": {"type": "string", "example": AUTH_CHALLENGE},
                }
            }
        if status == 429:
            response["headers"] = {
                "Retry-After": {
                    "description": "Detik sampai permintaan yang sama dapat lolos "
                    "(sama dengan `coba_lagi_detik`).",
                    "schema": {"type": "integer", "minimum": 1},
                }
            }
        out[status] = response
    return out


class TooLarge(SimpulError):
    """413: a body over its limit, refused before it is parsed."""

    def __init__(
        self,
        code: str = "permintaan_terlalu_besar",
        detail: str = "Isi permintaan melebihi batas ukuran.",
        **extra: Any,
    ) -> None:
        super().__init__(code, detail, status=413, **extra)
