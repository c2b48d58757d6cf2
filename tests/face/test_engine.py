"""The default face engine on the sample photos (scikit-image's bundled images): same-face
transformations score above the engine's threshold, the other face below, non-faces and
two-face photos are refused with their codes, and bad uploads get clear result codes."""

from __future__ import annotations

import io
import itertools
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageFile

from simpul.errors import SimpulError
from simpul.face import engine as fe
from simpul.face import samples
from simpul.face import service as face_service

PEOPLE = sorted(samples.PORTRAITS)


@pytest.fixture(scope="module")
def engine() -> fe.FaceEngine:
    return fe.get_engine()


@pytest.fixture(scope="module")
def enrolled(engine: fe.FaceEngine) -> dict[str, fe.Embedding]:
    return {
        p: fe.single_face(engine, fe.decode_photo(samples.enrolment(p))).embedding for p in PEOPLE
    }


def test_engine_is_loaded_once_per_process() -> None:
    assert fe.get_engine() is fe.get_engine()
    assert isinstance(fe.get_engine(), fe.FaceEngine)


@pytest.mark.parametrize("person", PEOPLE)
def test_same_face_transformed_scores_above_threshold_other_face_below(
    engine: fe.FaceEngine, enrolled: dict[str, fe.Embedding], person: str
) -> None:
    (other,) = set(PEOPLE) - {person}
    for probe in samples.probes(person):
        face = fe.single_face(engine, fe.decode_photo(probe.data))
        same = engine.similarity(face.embedding, enrolled[person])
        different = engine.similarity(face.embedding, enrolled[other])
        assert same > engine.recommended_threshold, (probe.label, same)
        assert different < engine.recommended_threshold, (probe.label, different)
        assert same - different > 25, probe.label  # a wide margin, not a coin toss


def test_the_two_sample_people_are_different(
    engine: fe.FaceEngine, enrolled: dict[str, fe.Embedding]
) -> None:
    score = engine.similarity(enrolled["astronaut"], enrolled["camera"])
    assert score < engine.recommended_threshold
    assert engine.similarity(enrolled["camera"], enrolled["camera"]) == pytest.approx(100)


def test_similarity_is_symmetric_and_bounded(
    engine: fe.FaceEngine, enrolled: dict[str, fe.Embedding]
) -> None:
    vectors = [*enrolled.values(), np.zeros(128, np.float32), np.full(128, 0.5, np.float32)]
    for a, b in itertools.product(vectors, repeat=2):
        s = engine.similarity(a, b)
        assert 0 <= s <= 100
        assert s == pytest.approx(engine.similarity(b, a))


@pytest.mark.parametrize("probe", samples.non_faces(), ids=lambda p: p.label)
def test_no_face_is_refused(engine: fe.FaceEngine, probe: samples.Probe) -> None:
    with pytest.raises(fe.FaceError) as err:
        fe.single_face(engine, fe.decode_photo(probe.data))
    assert err.value.code == "wajah_tidak_terdeteksi"


def test_two_faces_are_refused(engine: fe.FaceEngine) -> None:
    with pytest.raises(fe.FaceError) as err:
        fe.single_face(engine, fe.decode_photo(samples.two_faces()))
    assert err.value.code == "wajah_lebih_dari_satu"
    assert err.value.extra["jumlah_wajah"] == 2


def _jpeg() -> bytes:
    return samples.encode(samples.portrait("astronaut"), "JPEG")


def _png(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (120, 90, 60)).save(out, "PNG")
    return out.getvalue()


@pytest.mark.parametrize(
    ("data", "code", "status"),
    [
        (b"", "foto_kosong", 422),
        (b"GIF89a" + b"\0" * 100, "foto_format_tidak_didukung", 415),
        (b"%PDF-1.7 not a photo", "foto_format_tidak_didukung", 415),
        (samples.enrolment("astronaut")[:400], "foto_tidak_terbaca", 422),
        (samples.enrolment("astronaut")[:60_000], "foto_tidak_terbaca", 422),
        (_jpeg()[:-2000], "foto_tidak_terbaca", 422),
        (b"\xff\xd8\xff" + b"\x00" * 64, "foto_tidak_terbaca", 422),
        (_png(40, 300), "foto_terlalu_kecil", 422),
        (_png(9000, 5000), "foto_terlalu_besar", 413),  # 45 MP in a few kB
        (b"\xff\xd8\xff" + b"\x00" * fe.MAX_PHOTO_BYTES, "foto_terlalu_besar", 413),
    ],
    ids=[
        "kosong",
        "gif",
        "pdf",
        "png-terpotong",
        "png-tanpa-ekor",
        "jpeg-terpotong",
        "jpeg-rusak",
        "kecil",
        "bom-piksel",
        "besar",
    ],
)
@pytest.mark.parametrize("tolerant", [False, True], ids=["pillow-ketat", "pillow-toleran"])
def test_bad_uploads_get_stable_codes(
    data: bytes, code: str, status: int, tolerant: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # WeasyPrint (PDF documents) sets this process-wide flag when it is imported; a photo
    # cut off in transit must still be refused, not decoded with a grey lower half.
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", tolerant)
    with pytest.raises(SimpulError) as err:
        fe.decode_photo(data)
    assert (err.value.code, err.value.status) == (code, status)
    assert err.value.detail  # Indonesian prose for the caller


def test_exif_rotation_is_honoured(engine: fe.FaceEngine) -> None:
    """A phone photo stored sideways with an EXIF orientation tag still finds the face."""
    img = samples.portrait("astronaut").rotate(90, expand=True)
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to view"
    out = io.BytesIO()
    img.save(out, "JPEG", exif=exif.tobytes())
    assert len(engine.faces(fe.decode_photo(out.getvalue()))) == 1
    # Without the tag the same pixels show no upright face.
    assert engine.faces(fe.decode_photo(samples.encode(img, "JPEG"))) == []


def test_large_photo_is_scaled_before_detection(engine: fe.FaceEngine) -> None:
    big = samples.portrait("astronaut").resize((2400, 2400))
    photo = fe.decode_photo(samples.encode(big, "JPEG"))
    assert max(photo.pixels.shape[:2]) == fe.WORK_SIDE
    assert (photo.width, photo.height) == (2400, 2400)
    assert len(engine.faces(photo)) == 1


def test_a_plugged_engine_is_used_by_name() -> None:
    plugged = fe.get_engine("tests.face.fake_engine:engine")
    assert plugged.name == "contoh-warna-rata"
    assert fe.get_engine("tests.face.fake_engine:engine") is plugged
    score = face_service.compare(
        samples.enrolment("astronaut"), samples.enrolment("astronaut"), plugged
    )
    assert score == pytest.approx(100)


def test_an_engine_that_cannot_load_is_a_clear_503() -> None:
    with pytest.raises(SimpulError) as err:
        fe.get_engine("simpul_tidak_ada.mesin:engine")
    assert (err.value.code, err.value.status) == ("mesin_wajah_tidak_tersedia", 503)


def test_embedding_round_trips_through_bytes(enrolled: dict[str, fe.Embedding]) -> None:
    vector = enrolled["astronaut"]
    assert np.array_equal(fe.from_bytes(fe.to_bytes(vector)), vector)
    assert len(fe.to_bytes(vector)) == 128 * 4


def test_concurrent_use_gives_the_sequential_answers(engine: fe.FaceEngine) -> None:
    """The web app runs requests on a thread pool; the shared engine must not mix them."""
    photos = [fe.decode_photo(p.data) for person in PEOPLE for p in samples.probes(person)]

    def embed(photo: fe.Photo) -> fe.Embedding:
        return fe.single_face(engine, photo).embedding

    expected = [embed(p) for p in photos]
    with ThreadPoolExecutor(max_workers=4) as pool:
        got = list(pool.map(embed, photos * 2))
    for a, b in zip(expected * 2, got, strict=True):
        assert np.array_equal(a, b)


@given(st.binary(max_size=2048))
@settings(max_examples=200, deadline=None)
def test_arbitrary_bytes_are_a_clear_error(data: bytes) -> None:
    with pytest.raises(SimpulError) as err:
        fe.decode_photo(data)
    assert err.value.code.startswith("foto_")
    assert err.value.status in (413, 415, 422)


@given(st.binary(max_size=1024), st.sampled_from([b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n"]))
@settings(max_examples=200, deadline=None)
def test_broken_jpeg_and_png_headers_are_clear_errors(tail: bytes, magic: bytes) -> None:
    with pytest.raises(SimpulError) as err:
        fe.decode_photo(magic + tail)
    assert err.value.code in {"foto_tidak_terbaca", "foto_terlalu_kecil"}
