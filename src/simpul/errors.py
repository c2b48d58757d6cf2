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
