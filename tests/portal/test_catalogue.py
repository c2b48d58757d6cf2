"""Every string a page asks the catalogue for exists, in both languages: the gettext
catalogues (`locale/<lang>/LC_MESSAGES/portal.po`) read with Babel, and every code a page
labels (services, mechanisms, statuses, duty kinds) has its label."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from simpul.access.schemas import AccountStatus, DeviceStatus, Role
from simpul.agreements.lifecycle import State
from simpul.agreements.schemas import DUTY_KINDS, Mechanism, Service
from simpul.matching.engine import STATUSES
from simpul.obligations.deadlines import Status
from simpul.portal import i18n
from simpul.portal.nav import PAGES
from simpul.portal.pages_pemadanan import WORKFLOWS

PORTAL = Path(i18n.__file__).parent
LITERAL = re.compile(r"""\bt\(\s*["']([a-z_.]+)["']""")


def _literal_keys() -> set[str]:
    found: set[str] = set()
    for path in [*PORTAL.glob("templates/*.html"), *PORTAL.glob("*.py")]:
        found |= set(LITERAL.findall(path.read_text(encoding="utf-8")))
        found |= set(
            re.findall(
                r"""translate\(\s*\w+,\s*["']([a-z_.]+)["']""", path.read_text(encoding="utf-8")
            )
        )
    return {k for k in found if not k.endswith(".")}  # "role." ~ …: a family, see below


def _family_keys() -> set[str]:
    """Keys built from a value at render time ("role." ~ user.role.value, …)."""
    keys = {f"role.{r.value}" for r in Role}
    keys |= {f"state.{s.value}" for s in State}
    keys |= {f"dstatus.{s.value}" for s in Status}
    keys |= {f"dev.status.{s.value}" for s in DeviceStatus}
    keys |= {f"acct.status.{s.value}" for s in AccountStatus}
    keys |= {f"nav.{p.key}" for p in PAGES.values() if p.nav}
    keys |= {f"match.wf.{w}" for w in WORKFLOWS}
    keys |= {
        f"match.list.{n}"
        for n in ("hasil", "penerima", "balikan", "selisih", "asn", "cocok", "tidak_ditemukan")
    }
    keys |= {f"result.{r}" for r in ("sesuai", "tidak_sesuai")}
    keys |= {f"decision.{d}" for d in ("izin", "tolak", "tindakan")}
    # Codes shown through the `label` filter: every value of each vocabulary.
    keys |= {f"svc.name.{s.value}" for s in Service}
    keys |= {f"mech.{m.value}" for m in Mechanism}
    keys |= {f"duty.kind.{k}" for k in DUTY_KINDS}
    keys |= {f"match.status.{s}" for s in STATUSES}
    keys |= {f"job.status.{s}" for s in ("antri", "berjalan", "selesai", "gagal", "dibatalkan")}
    keys |= {f"dataset.{d}" for d in ("kependudukan", "asn", "dtks", "regsosek")}
    return keys


def test_pages_find_every_key_they_use() -> None:
    used = _literal_keys() | _family_keys()
    assert len(used) > 100  # the scan found the templates
    missing = sorted(k for k in used if not i18n.has(k))
    assert missing == []


def _po(lang: str) -> dict[str, str]:
    with (PORTAL / "locale" / lang / "LC_MESSAGES" / "portal.po").open("rb") as fh:
        return {str(m.id): str(m.string) for m in read_po(fh) if m.id}


def test_both_catalogues_have_the_same_keys_and_no_fuzzy_or_empty_entry() -> None:
    for lang in i18n.LANGS:
        with (PORTAL / "locale" / lang / "LC_MESSAGES" / "portal.po").open("rb") as fh:
            cat = read_po(fh)
        assert not [m.id for m in cat if m.id and (m.fuzzy or not m.string)], lang
    assert set(_po("id")) == set(_po("en"))


@pytest.mark.parametrize("key", sorted(_po("id")))
def test_each_entry_has_both_languages_and_the_same_placeholders(key: str) -> None:
    indonesian, english = _po("id")[key], _po("en")[key]
    assert indonesian.strip() and english.strip()
    fields = re.compile(r"\{(\w+)\}")
    assert sorted(fields.findall(indonesian)) == sorted(fields.findall(english))
    assert i18n.translate("id", key) == indonesian and i18n.translate("en", key) == english


def test_numbers_dates_and_percentages_are_written_as_indonesians_read_them() -> None:
    from datetime import UTC, date, datetime

    from simpul.kit.timezones import WIT, WITA

    assert i18n.number("id", 1000) == "1.000" and i18n.number("en", 1000) == "1,000"
    assert i18n.number("id", 20852.5, 1) == "20.852,5"
    assert i18n.percent("id", 0.1001) == "10,0%" and i18n.percent("en", 0.1001) == "10.0%"
    noon = datetime(2026, 11, 23, 5, 0, tzinfo=UTC)
    assert i18n.when("id", noon) == "23 Nov 2026 12.00 WIB"
    assert i18n.when("id", noon, WITA) == "23 Nov 2026 13.00 WITA"
    assert i18n.when("en", noon, WIT) == "23 Nov 2026 14:00 WIT"
    assert i18n.when("id", datetime(2026, 11, 23, 5, 0)) == "23 Nov 2026 12.00 WIB"  # naive: UTC
    assert i18n.when("id", date(2026, 6, 30)) == "30 Jun 2026"
    assert i18n.label("id", "svc.name", Service.AKSES_NIK) == "Akses NIK"
    assert i18n.label("en", "mech", Mechanism.WEB_SERVICE) == "web service"
