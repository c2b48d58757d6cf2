"""Synthetic Indonesia: registries and recipient lists built from a seed, no real data.

`generate_world` writes kependudukan, asn, dtks and regsosek as Parquet; `sample_list`
writes a noisy recipient list (BPUM candidates or proposed KPM) and its truth file.
"""

from __future__ import annotations

from simpul.registry.synth.lists import KINDS, sample_list, truth_path
from simpul.registry.synth.world import DATASETS, generate_world

__all__ = ["DATASETS", "KINDS", "generate_world", "sample_list", "truth_path"]
