"""Docs that can be checked are checked: the CLI reference must match `--help`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_cli_reference_is_current(tmp_path: Path) -> None:
    fresh = tmp_path / "cli.md"
    subprocess.run(
        [sys.executable, "-m", "typer", "simpul.cli", "utils", "docs", "--name", "simpul",
         "--output", str(fresh)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    current = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    assert fresh.read_text(encoding="utf-8") == current, "docs/cli.md is stale: run `make docs`"
