"""A stand-in engine an agency might plug in (SIMPUL_FACE_ENGINE=module:factory): it
"finds" one face covering the photo and embeds the mean colour. Used only to prove the
plug-in path; the real engine is tested on real detections."""

from __future__ import annotations

import numpy as np

from simpul.face.engine import Embedding, FaceBox, Photo


class MeanColourEngine:
    name = "contoh-warna-rata"
    recommended_threshold = 90.0

    def faces(self, photo: Photo) -> list[FaceBox]:
        h, w = photo.pixels.shape[:2]
        return [FaceBox(0, 0, w, h, 1.0)]

    def embed(self, photo: Photo, box: FaceBox) -> Embedding:
        return photo.pixels.reshape(-1, 3).mean(axis=0).astype(np.float32) / 255

    def similarity(self, a: Embedding, b: Embedding) -> float:
        return float(max(0.0, 100 * (1 - float(np.abs(a - b).max()))))


def engine() -> MeanColourEngine:
    return MeanColourEngine()
