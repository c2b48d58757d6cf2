"""Sample photos for the demo, the tests and the benchmark — no photo of a real person is
added to the project: the two human faces come from scikit-image's bundled test images
(`data.astronaut()`, `data.camera()`), the non-faces from its `coffee`, `chelsea` (a cat)
and `coins`. Same-person probes are transformations (crop, rotation, brightness, JPEG
recompression, scale) of the same source; the two-face photo is a composition."""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageEnhance

# Passport-style crops around each face, in the source image's pixels.
PORTRAITS = {"astronaut": (110, 20, 340, 250), "camera": (150, 60, 330, 240)}
# coins: the detector's nearest miss among the bundled images (a candidate at up-sampling).
NON_FACES = ("coffee", "chelsea", "coins")


def source(name: str) -> Image.Image:
    """One of scikit-image's bundled test images as an RGB Pillow image."""
    from skimage import data

    pixels = np.asarray(getattr(data, name)())
    if pixels.ndim == 2:
        pixels = np.stack([pixels] * 3, axis=-1)
    return Image.fromarray(np.ascontiguousarray(pixels[..., :3]).astype(np.uint8), "RGB")


def portrait(person: str) -> Image.Image:
    return source(person).crop(PORTRAITS[person])


def encode(img: Image.Image, fmt: str = "PNG", quality: int = 90) -> bytes:
    out = io.BytesIO()
    if fmt == "JPEG":
        img.convert("RGB").save(out, "JPEG", quality=quality)
    else:
        img.save(out, fmt)
    return out.getvalue()


def _recompress(img: Image.Image, quality: int) -> Image.Image:
    return Image.open(io.BytesIO(encode(img, "JPEG", quality))).convert("RGB")


def _other_crop(person: str) -> Image.Image:
    left, top, right, bottom = PORTRAITS[person]
    inset = (right - left) // 8
    return source(person).crop((left + inset, top + inset, right - inset // 2, bottom - inset))


TRANSFORMS: dict[str, Callable[[str], Image.Image]] = {
    "potong_lain": _other_crop,
    "putar_kiri_10": lambda p: portrait(p).rotate(10, resample=Image.Resampling.BILINEAR),
    "putar_kanan_8": lambda p: portrait(p).rotate(-8, resample=Image.Resampling.BILINEAR),
    "gelap": lambda p: ImageEnhance.Brightness(portrait(p)).enhance(0.6),
    "terang": lambda p: ImageEnhance.Brightness(portrait(p)).enhance(1.35),
    "jpeg_q25": lambda p: _recompress(portrait(p), 25),
    "perbesar": lambda p: portrait(p).resize((640, 640), Image.Resampling.BICUBIC),
}


@dataclass(frozen=True)
class Probe:
    label: str
    person: str  # whose face, or "" for none
    data: bytes


def enrolment(person: str) -> bytes:
    """The registry's photo of a sample person (PNG)."""
    return encode(portrait(person), "PNG")


def probes(person: str) -> list[Probe]:
    """Transformed photos of the same face, as a recipient might send them (JPEG)."""
    return [
        Probe(f"{person}/{key}", person, encode(make(person), "JPEG"))
        for key, make in TRANSFORMS.items()
    ]


def non_faces() -> list[Probe]:
    return [Probe(name, "", encode(source(name), "JPEG")) for name in NON_FACES]


def two_faces() -> bytes:
    """Two faces in one photo: the astronaut beside her mirror image. (The cameraman is a
    turned, low-contrast face that the HOG detector finds only when it fills the photo.)"""
    a = portrait("astronaut").resize((240, 240))
    canvas = Image.new("RGB", (520, 280), (200, 200, 200))
    canvas.paste(a, (10, 20))
    canvas.paste(a.transpose(Image.Transpose.FLIP_LEFT_RIGHT), (270, 20))
    return encode(canvas, "JPEG")


def write_samples(folder: Path) -> list[Path]:
    """Write the sample photos (registry photos, probes, non-faces, two faces) to a folder."""
    folder.mkdir(parents=True, exist_ok=True)
    files: dict[str, bytes] = {f"rekam_{p}.png": enrolment(p) for p in PORTRAITS}
    for person in PORTRAITS:
        files.update({f"uji_{p.label.replace('/', '_')}.jpg": p.data for p in probes(person)})
    files.update({f"tanpa_wajah_{p.label}.jpg": p.data for p in non_faces()})
    files["dua_wajah.jpg"] = two_faces()
    written = []
    for name, data in sorted(files.items()):
        path = folder / name
        path.write_bytes(data)
        written.append(path)
    return written
