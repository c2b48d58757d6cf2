"""Build the demo world step by step; each step is idempotent for the same data dir."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from simpul.registry import service as registry_service
from simpul.runtime import Runtime

DATASETS = ("kependudukan", "asn", "dtks", "regsosek")


def build_world(
    rt: Runtime, people: int, seed: int, say: Callable[[str], None] = print
) -> dict[str, int]:
    """Generate the synthetic registries and load them; returns records per dataset."""
    from simpul.registry.synth import generate_world

    rt.migrate()
    synth_dir: Path = rt.settings.data_dir / "synth"
    say(f"Membangun Indonesia sintetis: {people:,} penduduk, benih {seed} …")
    paths = generate_world(people, seed, synth_dir)
    loaded: dict[str, int] = {}
    for code in DATASETS:
        with rt.transaction() as session:
            report = registry_service.load_registry(
                session, rt.settings, code, paths[code], rt.clock
            )
        with rt.transaction() as session:
            registry_service.write_snapshot(session, rt.settings, code)
        loaded[code] = report.rows_loaded
        say(f"  {code}: {report.rows_loaded:,} rekaman dimuat, {report.rows_rejected} ditolak")
    return loaded
