"""Identifiers for rows and requests: sortable by time, unguessable."""

from __future__ import annotations

import os
import time


def new_id(prefix: str = "") -> str:
    """48 bits of milliseconds then 80 random bits, hex: sorts by creation time."""
    ms = int(time.time() * 1000)
    body = f"{ms:012x}{os.urandom(10).hex()}"
    return f"{prefix}{body}" if prefix else body
