"""Every string a page asks the catalogue for exists, in both languages."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from simpul.access.schemas import AccountStatus, DeviceStatus, Role
from simpul.agreements.lifecycle import State
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
    return keys


def test_pages_find_every_key_they_use() -> None:
    used = _literal_keys() | _family_keys()
    assert len(used) > 100  # the scan found the templates
    missing = sorted(k for k in used if not i18n.has(k))
    assert missing == []


@pytest.mark.parametrize("key", sorted(i18n.M))
def test_each_entry_has_both_languages_and_the_same_placeholders(key: str) -> None:
    indonesian, english = i18n.M[key]
    assert indonesian.strip() and english.strip()
    fields = re.compile(r"\{(\w+)\}")
    assert sorted(fields.findall(indonesian)) == sorted(fields.findall(english))
    assert i18n.translate("id", key) == indonesian and i18n.translate("en", key) == english
