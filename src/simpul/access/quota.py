"""Per-account quotas from the grant (per minute and per day), fixed windows.

Counts live in the process. With several workers each enforces its share of the limit;
a shared store (Redis) is the step for multi-node deployments (docs/adr/0002).
"""

from __future__ import annotations

import threading
from datetime import datetime

from simpul.agreements.schemas import Quota


class QuotaLimiter:
    def __init__(self, workers: int = 1) -> None:
        self._lock = threading.Lock()
        self._counts: dict[tuple[str, str, str, int], int] = {}
        self._workers = max(1, workers)

    def consume(
        self, account_id: str, grant_key: str, quota: Quota, at: datetime, units: int = 1
    ) -> int | None:
        """Take `units` from every window; None if allowed, else seconds to wait."""
        windows: list[tuple[str, int, int, int]] = []
        epoch = int(at.timestamp())
        if quota.per_minute:
            windows.append(("m", epoch // 60, -(-quota.per_minute // self._workers), 60))
        if quota.per_day:
            windows.append(("d", epoch // 86_400, -(-quota.per_day // self._workers), 86_400))
        with self._lock:
            for kind, slot, limit, span in windows:
                if self._counts.get((account_id, grant_key, kind, slot), 0) + units > limit:
                    return span - epoch % span
            for kind, slot, _limit, _span in windows:
                key = (account_id, grant_key, kind, slot)
                self._counts[key] = self._counts.get(key, 0) + units
            if len(self._counts) > 100_000:  # drop windows long past
                self._prune(epoch)
        return None

    def _prune(self, epoch: int) -> None:
        current = {"m": epoch // 60, "d": epoch // 86_400}
        for key in [k for k in self._counts if k[3] < current[k[2]]]:
            del self._counts[key]
