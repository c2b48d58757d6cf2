"""Indonesia's three time zones (Keppres 41/1987, in force since 1 January 1988; no summer
time) and the province each region code lies in. Times are stored in UTC and shown in the
zone of the reader's institution, with the zone named."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta, timezone


@dataclass(frozen=True)
class Zone:
    abbr: str  # WIB, WITA, WIT
    iana: str  # the tz database name, for exports and other systems
    tz: timezone


WIB = Zone("WIB", "Asia/Jakarta", timezone(timedelta(hours=7), "WIB"))
WITA = Zone("WITA", "Asia/Makassar", timezone(timedelta(hours=8), "WITA"))
WIT = Zone("WIT", "Asia/Jayapura", timezone(timedelta(hours=9), "WIT"))
ZONES = {z.abbr: z for z in (WIB, WITA, WIT)}

# Province codes (Kemendagri kode wilayah, first two digits) outside WIB. Sumatra, Java,
# West and Central Kalimantan are WIB; South, East and North Kalimantan, Sulawesi, Bali and
# Nusa Tenggara are WITA; Maluku and Papua are WIT.
_WITA = frozenset({"51", "52", "53", "63", "64", "65", "71", "72", "73", "74", "75", "76"})
_WIT = frozenset({"81", "82", "91", "92", "93", "94", "95", "96", "97"})


def zone_of_region(region: str | None) -> Zone:
    """The zone of a region code (province or below); WIB, the capital's, when unknown."""
    province = (region or "")[:2]
    if province in _WIT:
        return WIT
    if province in _WITA:
        return WITA
    return WIB
