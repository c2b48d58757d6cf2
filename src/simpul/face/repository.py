"""All photo-store queries."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import delete, func, select, update

from simpul.face.models import FacePhoto
from simpul.kit.repository import Repository


@dataclass(frozen=True)
class StoredEmbedding:
    engine: str
    embedding: bytes


class FaceRepository(Repository):
    def embedding(self, dataset: str, nik: str) -> StoredEmbedding | None:
        """The stored embedding only: the verification path never loads the photo."""
        row = self.session.execute(
            select(FacePhoto.engine, FacePhoto.embedding).where(
                FacePhoto.dataset == dataset, FacePhoto.nik == nik
            )
        ).one_or_none()
        return StoredEmbedding(row.engine, row.embedding) if row is not None else None

    def get(self, dataset: str, nik: str) -> FacePhoto | None:
        return self.session.get(FacePhoto, (dataset, nik))

    def put(self, photo: FacePhoto) -> bool:
        """Insert or replace; True when a photo was replaced."""
        existing = self.get(photo.dataset, photo.nik)
        if existing is not None:
            self.session.delete(existing)
            self.session.flush()
        self.session.add(photo)
        self.session.flush()
        return existing is not None

    def remove(self, dataset: str, nik: str) -> bool:
        result = self.session.execute(
            delete(FacePhoto).where(FacePhoto.dataset == dataset, FacePhoto.nik == nik)
        )
        return bool(getattr(result, "rowcount", 0))

    def count_by_engine(self, dataset: str) -> dict[str, int]:
        rows = self.session.execute(
            select(FacePhoto.engine, func.count())
            .where(FacePhoto.dataset == dataset)
            .group_by(FacePhoto.engine)
        ).all()
        return {str(engine): int(n) for engine, n in rows}

    def keys_not_of_engine(self, dataset: str, engine: str) -> Iterator[str]:
        yield from self.session.execute(
            select(FacePhoto.nik)
            .where(FacePhoto.dataset == dataset, FacePhoto.engine != engine)
            .order_by(FacePhoto.nik)
        ).scalars()

    def set_embedding(self, dataset: str, nik: str, engine: str, embedding: bytes) -> None:
        self.session.execute(
            update(FacePhoto)
            .where(FacePhoto.dataset == dataset, FacePhoto.nik == nik)
            .values(engine=engine, embedding=embedding)
        )
