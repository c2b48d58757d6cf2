"""Demo face photos: the two sample faces (scikit-image's astronaut and cameraman, not
people of the synthetic registry) are enrolled for the first synthetic people, and probe
photos are written beside the data so the service can be tried with curl."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pyarrow.parquet as pq

from simpul.face import samples, service
from simpul.runtime import Runtime

DATASET = "kependudukan"
ACTOR = "demo"
SAMPLES_DIR = "foto-contoh"


def enrol_demo_photos(rt: Runtime, say: Callable[[str], None]) -> dict[str, str]:
    """Enrol one sample face per synthetic person (first people of the snapshot); returns
    NIK → sample name. Writes the probe photos to DATA_DIR/foto-contoh."""
    snapshot = rt.settings.registry_dir / f"{DATASET}.parquet"
    people = pq.read_table(snapshot, columns=["nik"]).slice(0, len(samples.PORTRAITS))
    assigned = dict(zip(people.column("nik").to_pylist(), sorted(samples.PORTRAITS), strict=True))
    with rt.transaction() as session:
        for nik, person in assigned.items():
            service.enroll(session, rt.settings, rt.clock, DATASET, nik,
                           samples.enrolment(person), actor=ACTOR,
                           reason="demo: foto contoh scikit-image")  # fmt: skip
    folder: Path = rt.settings.data_dir / SAMPLES_DIR
    samples.write_samples(folder)
    (folder / "penugasan.json").write_text(json.dumps(assigned, indent=2), encoding="utf-8")
    say(f"Foto wajah contoh direkam untuk {len(assigned)} NIK sintetis; foto uji di {folder}.")
    first = next(iter(assigned))
    creds_file = rt.settings.data_dir / "demo-credentials.json"
    creds = json.loads(creds_file.read_text("utf-8")) if creds_file.exists() else []
    op = next((c for c in creds if c["username"] == "bkn.operator"), None)
    if op is not None:
        say(
            "  # Verifikasi wajah (PKS 003 Pasal 2(1)b), alamat bawaan:\n"
            f"  curl -s -u '{op['username']}:{op['password']}' -F nik={first} "
            f"-F foto=@{folder / 'uji_astronaut_putar_kiri_10.jpg'} "
            "http://127.0.0.1:8000/api/v1/datasets/kependudukan/verifikasi-wajah"
        )
    return assigned
