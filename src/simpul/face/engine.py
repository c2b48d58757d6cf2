"""The face engine behind one small interface: find faces → embedding → similarity 0–100.

The default engine is dlib's HOG face detector, its 5-point landmark model and its ResNet
face-recognition model (128-D embeddings). The weights ship inside the PyPI package
`face_recognition_models` and the code in the prebuilt `dlib-bin` wheel: nothing is ever
downloaded at run time, everything runs on the CPU, and the models are loaded once per
process (`get_engine`). An agency that must use a certified engine implements
`FaceEngine` and names its factory in `SIMPUL_FACE_ENGINE` (`module:callable`); see
docs/face.md and docs/adr/0005-face-engine.md.

Images arrive as bytes; `decode_photo` checks format, size and dimensions before any pixel
is decoded, so a hostile upload costs little. Photos and embeddings never reach a log.
"""

from __future__ import annotations

import importlib
import importlib.util
import io
import os
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageOps

from simpul.errors import InvalidInput, SimpulError
from simpul.kit.numbers import angka

# Bounds on what a caller may send (and what the provider may enrol).
MAX_PHOTO_BYTES = 5 * 1024 * 1024
MAX_PHOTO_PIXELS = 40_000_000
MIN_PHOTO_SIDE = 64
# Photos are scaled so that their longer side is at most this before detection: a face
# photo's face then measures ~100-250 px, where the HOG detector is fast and reliable.
WORK_SIDE = 320
FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png"}
ENGINE_ENV = "SIMPUL_FACE_ENGINE"

Embedding = NDArray[np.float32]


@dataclass(frozen=True)
class FaceBox:
    left: int
    top: int
    right: int
    bottom: int
    score: float


@dataclass(frozen=True)
class Photo:
    """A decoded, normalised photo (RGB, longer side ≤ WORK_SIDE) and what it came from."""

    pixels: NDArray[np.uint8]
    content_type: str
    width: int  # of the original
    height: int


@dataclass(frozen=True)
class FaceResult:
    embedding: Embedding
    box: FaceBox


class FaceError(InvalidInput):
    """A photo the engine cannot use; `code` says why (stable, for the caller to act on)."""


def too_large(limit: int = MAX_PHOTO_BYTES) -> SimpulError:
    return SimpulError(
        "foto_terlalu_besar",
        f"Foto melebihi batas {limit // (1024 * 1024)} MiB atau {angka(MAX_PHOTO_PIXELS)} piksel.",
        status=413,
    )


def sniff_format(data: bytes) -> str | None:
    if data.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    return None


def _complete(data: bytes, fmt: str) -> bool:
    """Whether the file is whole. Pillow cannot be trusted to say so: WeasyPrint sets the
    process-wide `ImageFile.LOAD_TRUNCATED_IMAGES`, after which a cut-off photo decodes
    with its missing part painted grey. A JPEG ends with EOI after its last scan (inside
    scans every 0xFF byte is stuffed, so FF D9 there is the real marker); a PNG passes
    Pillow's `verify` (chunk CRCs up to IEND), which ignores that flag."""
    if fmt == "JPEG":
        return data.rfind(b"\xff\xd9") > data.rfind(b"\xff\xda") >= 0
    try:
        Image.open(io.BytesIO(data), formats=["PNG"]).verify()
    except Exception:  # Pillow raises many kinds for a broken file
        return False
    return True


def decode_photo(data: bytes, *, max_bytes: int = MAX_PHOTO_BYTES) -> Photo:
    """Bytes → normalised RGB pixels, or a FaceError / 413 with a stable code."""
    if len(data) > max_bytes:
        raise too_large(max_bytes)
    if not data:
        raise FaceError("foto_kosong", "Berkas foto kosong.")
    fmt = sniff_format(data)
    if fmt is None:
        raise SimpulError(
            "foto_format_tidak_didukung", "Foto wajib berformat JPEG atau PNG.", status=415
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            opened = Image.open(io.BytesIO(data), formats=[fmt])
            width, height = opened.size
            if width * height > MAX_PHOTO_PIXELS:
                raise too_large(max_bytes)
            if not _complete(data, fmt):
                raise ValueError("truncated")
            opened.load()
            img = ImageOps.exif_transpose(opened)
    except SimpulError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise too_large(max_bytes) from None
    except Exception:  # Pillow raises many kinds for a broken file
        raise FaceError("foto_tidak_terbaca", "Foto tidak dapat dibaca (berkas rusak?).") from None
    if min(img.size) < MIN_PHOTO_SIDE:
        raise FaceError(
            "foto_terlalu_kecil", f"Foto terlalu kecil; sisi terpendek minimal {MIN_PHOTO_SIDE} px."
        )
    rgb = img.convert("RGB")
    scale = WORK_SIDE / max(rgb.size)
    if scale < 1:
        rgb = rgb.resize(
            (max(1, round(rgb.width * scale)), max(1, round(rgb.height * scale))),
            Image.Resampling.BILINEAR,
            reducing_gap=2.0,
        )
    pixels = np.ascontiguousarray(np.asarray(rgb, dtype=np.uint8))
    return Photo(pixels=pixels, content_type=FORMATS[fmt], width=width, height=height)


@runtime_checkable
class FaceEngine(Protocol):
    """What Simpul needs from a face engine. `name` identifies the embedding space: stored
    embeddings are only compared with probes from an engine of the same name."""

    name: str
    # The similarity (0-100) at and above which the engine's maker considers two faces the
    # same person; used when the grant sets no threshold of its own.
    recommended_threshold: float

    def faces(self, photo: Photo) -> list[FaceBox]:
        """Every face the engine is confident about, best first."""
        ...

    def embed(self, photo: Photo, box: FaceBox) -> Embedding:
        """The embedding of the face in `box`."""
        ...

    def similarity(self, a: Embedding, b: Embedding) -> float:
        """0 (certainly different people) … 100 (identical)."""
        ...


def single_face(engine: FaceEngine, photo: Photo) -> FaceResult:
    """The one face in the photo, or a FaceError saying there is none or several."""
    boxes = engine.faces(photo)
    if not boxes:
        raise FaceError("wajah_tidak_terdeteksi", "Tidak ada wajah yang terdeteksi pada foto.")
    if len(boxes) > 1:
        raise FaceError(
            "wajah_lebih_dari_satu",
            f"Terdeteksi {len(boxes)} wajah pada foto; kirim foto dengan satu wajah.",
            jumlah_wajah=len(boxes),
        )
    return FaceResult(embedding=engine.embed(photo, boxes[0]), box=boxes[0])


def _package_dir(package: str) -> Path:
    """A package's folder without importing it (face_recognition_models imports the
    deprecated pkg_resources at import time)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(package)
    return Path(next(iter(spec.submodule_search_locations)))


class DlibEngine:
    """dlib HOG detector + 5-point landmarks + ResNet embeddings (face_recognition_models).

    Detection runs on the photo scaled to WORK_SIDE; when nothing is found there it tries
    once more at double resolution (small faces in a larger photo). A candidate counts as a
    face from `detect_threshold`; two or more faces count as "several" only when the second
    is itself confident (`multi_threshold`), so a faint false candidate in the background
    does not refuse a good photo. Similarity is linear in the embedding distance d:
    100·(1 − d/1.2), clipped to 0…100, so dlib's own same-person distance 0.6 maps to 50.
    """

    name = "dlib-resnet-v1"
    recommended_threshold = 50.0
    detect_threshold = -0.3
    multi_threshold = 0.0
    distance_scale = 1.2

    def __init__(self) -> None:
        import dlib

        models = _package_dir("face_recognition_models") / "models"
        self._detector = dlib.get_frontal_face_detector()
        self._landmarks = dlib.shape_predictor(str(models / "shape_predictor_5_face_landmarks.dat"))
        self._model = dlib.face_recognition_model_v1(
            str(models / "dlib_face_recognition_resnet_model_v1.dat")
        )
        self._rect = dlib.rectangle
        # dlib's detector and networks keep working buffers: one caller at a time per
        # process (the web app runs requests on a thread pool).
        self._busy = threading.Lock()

    def faces(self, photo: Photo) -> list[FaceBox]:
        with self._busy:
            for upsample in (0, 1):
                rects, scores, _kinds = self._detector.run(
                    photo.pixels, upsample, self.detect_threshold
                )
                if len(rects):
                    break
        found = sorted(
            (
                FaceBox(r.left(), r.top(), r.right(), r.bottom(), float(s))
                for r, s in zip(rects, scores, strict=True)
            ),
            key=lambda b: -b.score,
        )
        if not found:
            return []
        return [found[0], *(b for b in found[1:] if b.score >= self.multi_threshold)]

    def embed(self, photo: Photo, box: FaceBox) -> Embedding:
        rect = self._rect(box.left, box.top, box.right, box.bottom)
        with self._busy:
            shape = self._landmarks(photo.pixels, rect)
            vector = self._model.compute_face_descriptor(photo.pixels, shape, 0)
        return np.asarray(vector, dtype=np.float32)

    def similarity(self, a: Embedding, b: Embedding) -> float:
        distance = float(np.linalg.norm(a.astype(np.float64) - b.astype(np.float64)))
        return float(min(100.0, max(0.0, 100.0 * (1.0 - distance / self.distance_scale))))


_engines: dict[str, FaceEngine] = {}
_lock = threading.Lock()


def _build(spec: str) -> FaceEngine:
    if spec in ("", "dlib", DlibEngine.name):
        return DlibEngine()
    module_name, _, attr = spec.partition(":")
    factory: Any = getattr(importlib.import_module(module_name), attr or "engine")
    engine = factory()
    if not isinstance(engine, FaceEngine):
        raise TypeError(f"{spec} tidak menghasilkan FaceEngine")
    return engine


def get_engine(spec: str | None = None) -> FaceEngine:
    """The process's face engine, loaded on first use and kept (one per worker).

    `spec` (or SIMPUL_FACE_ENGINE) is `dlib` (the default) or `module:factory` for an
    engine an agency plugs in."""
    key = spec if spec is not None else os.environ.get(ENGINE_ENV, "dlib")
    engine = _engines.get(key)
    if engine is not None:
        return engine
    with _lock:
        if key not in _engines:
            try:
                _engines[key] = _build(key)
            except (ImportError, OSError, RuntimeError, AttributeError, TypeError) as exc:
                raise SimpulError(
                    "mesin_wajah_tidak_tersedia",
                    f"Mesin pengenalan wajah tidak dapat dimuat ({type(exc).__name__}).",
                    status=503,
                ) from exc
        return _engines[key]


def to_bytes(embedding: Embedding) -> bytes:
    return np.asarray(embedding, dtype="<f4").tobytes()


def from_bytes(data: bytes) -> Embedding:
    return np.frombuffer(data, dtype="<f4").astype(np.float32)
