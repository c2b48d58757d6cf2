"""The photo store: one face photo per person of a registry, with its embedding computed
once at enrolment (by the engine named in `engine`)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from simpul.db import Base


class FacePhoto(Base):
    __tablename__ = "face_photo"

    dataset: Mapped[str] = mapped_column(String(40), primary_key=True)
    nik: Mapped[str] = mapped_column(String(16), primary_key=True)
    content_type: Mapped[str] = mapped_column(String(40))
    photo: Mapped[bytes] = mapped_column(LargeBinary)
    sha256: Mapped[str] = mapped_column(String(64))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    engine: Mapped[str] = mapped_column(String(80))
    embedding: Mapped[bytes] = mapped_column(LargeBinary)
    enrolled_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    enrolled_by: Mapped[str] = mapped_column(String(80))
