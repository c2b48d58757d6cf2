"""bench/audit_witness.py's arithmetic: which poll first saw a record covered, and the
quantiles it reports (the benchmark itself runs at toy size in `make test`)."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import audit_witness as aw


def test_each_sample_waits_for_the_first_poll_that_covers_it() -> None:
    timeline = [(10.0, 0), (10.5, 1_000), (11.2, 3_000)]
    samples = [(1_000, 10.1), (2_000, 10.4), (3_000, 10.9), (4_000, 11.0)]
    delays, uncovered = aw.covering_delays(samples, timeline)
    assert delays == pytest.approx([0.4, 0.8, 0.3])
    assert uncovered == 1  # no poll saw #4,000 covered


def test_a_poll_before_the_callers_wake_up_counts_as_no_delay() -> None:
    delays, uncovered = aw.covering_delays([(5, 2.0)], [(1.9, 5)])
    assert (delays, uncovered) == ([0.0], 0)


def test_quantiles_are_nearest_rank() -> None:
    values = [float(v) for v in range(1, 201)]  # 1 … 200
    assert aw.quantiles(values) == (100.0, 198.0, 200.0)
    assert aw.quantiles([0.7]) == (0.7, 0.7, 0.7)
    assert all(math.isnan(v) for v in aw.quantiles([]))
