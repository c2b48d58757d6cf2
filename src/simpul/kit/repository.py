"""Base for repositories: the only place queries live. The session is the caller's."""

from __future__ import annotations

from sqlalchemy.orm import Session


class Repository:
    def __init__(self, session: Session) -> None:
        self.session = session
