"""Who an action names as its actor when it is run from the command line."""

from __future__ import annotations

import getpass


def cli_actor() -> str:
    """`cli:<operating-system user>`: on the CLI the person at the terminal acts."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # pragma: no cover - no passwd entry in some containers
        return "cli"
