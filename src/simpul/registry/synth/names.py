"""Indonesian names by tradition and religion, drawn for a million people in one pass.

A name is up to six slots: title (Balinese caste/birth order, Bugis ANDI), prefix (MUHAMMAD in
its spellings, SITI, NUR), first, second and third given names, and a family name/marga. Each
slot is a token id drawn per (naming style, sex, era) group; the strings are joined by Arrow.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from simpul.registry.synth import namepools as np_
from simpul.registry.synth.provinces import (
    BUDHA,
    HINDU,
    ISLAM,
    KATHOLIK,
    KRISTEN,
    STYLES,
)
from simpul.registry.synth.util import FloatArray, Grouper, IntArray, cumulative, join, take

NAME_STYLES = (
    "jawa_islam",
    "jawa_kristen",
    "jawa_lain",
    "sunda",
    "melayu",
    "minang",
    "bugis",
    "batak_kristen",
    "batak_islam",
    "bali",
    "tionghoa",
    "ntt",
    "maluku_kristen",
    "maluku_islam",
    "minahasa",
    "papua",
    "kristen_umum",
)
NS = {name: i for i, name in enumerate(NAME_STYLES)}
ZIPF = 0.7  # rank exponent: the most common name in a pool is several times the tenth
YOUNG_FROM = 1990  # birth year from which the "modern" pool mixes in

Mix = tuple[tuple[str, float], ...]


@dataclass(frozen=True)
class Spec:
    first: Mix
    second: Mix
    p2: tuple[float, float]  # chance of a second given name, by era (old, young)
    third: Mix = ()
    p3: tuple[float, float] = (0.0, 0.0)
    prefix: tuple[tuple[str, tuple[float, float]], ...] = ()
    surname: str | None = None
    p_surname: float = 1.0
    modern: float = 0.35  # share of the modern pool for the young era


_MUH = (("muhammad", (0.07, 0.14)),)


def _pair(m: Spec, f: Spec) -> dict[str, Spec]:
    return {"m": m, "f": f}


SPECS: dict[str, dict[str, Spec]] = {
    "jawa_islam": _pair(
        Spec((("jawa_m", 0.7), ("islam_m", 0.3)), (("jawa_m_last", 0.6), ("islam_m_last", 0.4)),
             (0.45, 0.75), (("islam_m_last", 0.5), ("jawa_m_last", 0.5)), (0.03, 0.12), _MUH),
        Spec((("jawa_f", 0.75), ("islam_f", 0.25)), (("jawa_f_last", 0.7), ("islam_f_last", 0.3)),
             (0.5, 0.75), (("jawa_f_last", 1.0),), (0.02, 0.1),
             (("siti", (0.12, 0.05)), ("nur", (0.04, 0.05)))),
    ),
    "jawa_kristen": _pair(
        Spec((("christian_m", 0.5), ("jawa_m", 0.5)), (("jawa_m_last", 1.0),), (0.6, 0.75)),
        Spec((("christian_f", 0.5), ("jawa_f", 0.5)), (("jawa_f_last", 1.0),), (0.6, 0.75)),
    ),
    "jawa_lain": _pair(
        Spec((("jawa_m", 1.0),), (("jawa_m_last", 1.0),), (0.4, 0.7)),
        Spec((("jawa_f", 1.0),), (("jawa_f_last", 1.0),), (0.45, 0.7)),
    ),
    "sunda": _pair(
        Spec((("sunda_m", 0.7), ("islam_m", 0.3)), (("sunda_m_last", 0.7), ("islam_m_last", 0.3)),
             (0.55, 0.8), prefix=(("muhammad", (0.06, 0.12)),)),
        Spec((("sunda_f", 0.75), ("islam_f", 0.25)), (("sunda_f_last", 0.6), ("islam_f_last", 0.4)),
             (0.5, 0.75), prefix=(("siti", (0.1, 0.05)), ("nur", (0.03, 0.04)))),
    ),
    "melayu": _pair(
        Spec((("islam_m", 1.0),), (("islam_m_last", 1.0),), (0.6, 0.8), (("islam_m_last", 1.0),),
             (0.05, 0.12), (("muhammad", (0.15, 0.22)),)),
        Spec((("islam_f", 1.0),), (("islam_f_last", 1.0),), (0.55, 0.8),
             prefix=(("siti", (0.15, 0.06)), ("nur", (0.06, 0.06)))),
    ),
    "minang": _pair(
        Spec((("minang_m", 0.6), ("islam_m", 0.4)), (("islam_m_last", 0.5), ("minang_m", 0.5)),
             (0.35, 0.6), prefix=(("muhammad", (0.06, 0.12)),)),
        Spec((("minang_f", 0.6), ("islam_f", 0.4)), (("islam_f_last", 0.5), ("minang_f", 0.5)),
             (0.3, 0.6), prefix=(("siti", (0.06, 0.03)), ("nur", (0.05, 0.05)))),
    ),
    "bugis": _pair(
        Spec((("bugis_m", 0.6), ("islam_m", 0.4)), (("islam_m_last", 1.0),), (0.35, 0.65),
             prefix=(("muhammad", (0.12, 0.2)),)),
        Spec((("bugis_f", 0.6), ("islam_f", 0.4)), (("islam_f_last", 1.0),), (0.35, 0.65),
             prefix=(("sitti", (0.1, 0.04)), ("nur", (0.05, 0.05)))),
    ),
    "batak_kristen": _pair(
        Spec((("batak_m", 0.6), ("christian_m", 0.4)), (("batak_m", 0.5), ("christian_m", 0.5)),
             (0.35, 0.5), surname="marga_toba", modern=0.25),
        Spec((("batak_f", 0.6), ("christian_f", 0.4)), (("batak_f", 0.5), ("christian_f", 0.5)),
             (0.3, 0.5), surname="marga_toba", modern=0.25),
    ),
    "batak_islam": _pair(
        Spec((("islam_m", 1.0),), (("islam_m_last", 1.0),), (0.4, 0.6),
             prefix=(("muhammad", (0.1, 0.15)),), surname="marga_mandailing"),
        Spec((("islam_f", 1.0),), (("islam_f_last", 1.0),), (0.4, 0.6),
             prefix=(("siti", (0.06, 0.03)),), surname="marga_mandailing"),
    ),
    "bali": _pair(
        Spec((("bali_m", 1.0),), (("bali_m_last", 1.0),), (0.55, 0.7), modern=0.1),
        Spec((("bali_f", 1.0),), (("bali_f_last", 1.0),), (0.55, 0.7), modern=0.1),
    ),
    "tionghoa": _pair(
        Spec((("tionghoa_m", 1.0),), (("tionghoa_m", 1.0),), (0.25, 0.35),
             surname="sur_tionghoa", p_surname=0.7, modern=0.0),
        Spec((("tionghoa_f", 1.0),), (("tionghoa_f", 1.0),), (0.25, 0.35),
             surname="sur_tionghoa", p_surname=0.7, modern=0.0),
    ),
    "ntt": _pair(
        Spec((("christian_m", 1.0),), (("christian_m", 1.0),), (0.3, 0.4), surname="sur_ntt",
             p_surname=0.95, modern=0.2),
        Spec((("christian_f", 1.0),), (("christian_f", 1.0),), (0.3, 0.4), surname="sur_ntt",
             p_surname=0.95, modern=0.2),
    ),
    "maluku_kristen": _pair(
        Spec((("christian_m", 0.6), ("minahasa_m", 0.4)), (("christian_m", 1.0),), (0.3, 0.4),
             surname="sur_maluku_kristen", modern=0.2),
        Spec((("christian_f", 0.6), ("minahasa_f", 0.4)), (("christian_f", 1.0),), (0.3, 0.4),
             surname="sur_maluku_kristen", modern=0.2),
    ),
    "maluku_islam": _pair(
        Spec((("islam_m", 1.0),), (("islam_m_last", 1.0),), (0.3, 0.5),
             prefix=(("muhammad", (0.1, 0.15)),), surname="sur_maluku_islam"),
        Spec((("islam_f", 1.0),), (("islam_f_last", 1.0),), (0.3, 0.5),
             prefix=(("siti", (0.08, 0.04)),), surname="sur_maluku_islam"),
    ),
    "minahasa": _pair(
        Spec((("minahasa_m", 0.5), ("christian_m", 0.5)), (("christian_m", 1.0),), (0.3, 0.45),
             surname="sur_minahasa", modern=0.2),
        Spec((("minahasa_f", 0.5), ("christian_f", 0.5)), (("christian_f", 1.0),), (0.3, 0.45),
             surname="sur_minahasa", modern=0.2),
    ),
    "papua": _pair(
        Spec((("christian_m", 0.6), ("papua_m", 0.4)), (("papua_m", 0.5), ("christian_m", 0.5)),
             (0.25, 0.4), surname="sur_papua", p_surname=0.95, modern=0.15),
        Spec((("christian_f", 0.5), ("papua_f", 0.5)), (("papua_f", 0.5), ("christian_f", 0.5)),
             (0.25, 0.4), surname="sur_papua", p_surname=0.95, modern=0.15),
    ),
    "kristen_umum": _pair(
        Spec((("christian_m", 0.7), ("jawa_m", 0.3)), (("christian_m", 0.5), ("jawa_m_last", 0.5)),
             (0.4, 0.6), modern=0.25),
        Spec((("christian_f", 0.7), ("jawa_f", 0.3)), (("christian_f", 0.5), ("jawa_f_last", 0.5)),
             (0.4, 0.6), modern=0.25),
    ),
}  # fmt: skip


def _naming_table() -> IntArray:
    """Naming style for each (family style, religion)."""
    table = np.full((len(STYLES), 7), NS["kristen_umum"], dtype=np.int64)
    islamic = {"melayu": "melayu", "minang": "minang", "bugis": "bugis", "batak": "batak_islam"}
    for s, style in enumerate(STYLES):
        for r in range(7):
            christian = r in (KRISTEN, KATHOLIK)
            if style in ("jawa", "sunda"):
                ns = "jawa_kristen" if christian else "jawa_lain"
                if r == ISLAM:
                    ns = "jawa_islam" if style == "jawa" else "sunda"
            elif style == "batak":
                ns = "batak_islam" if r == ISLAM else "batak_kristen"
            elif style in ("bali", "tionghoa"):
                ns = style
            elif style in islamic:
                ns = islamic[style] if r == ISLAM else "kristen_umum"
            elif style == "maluku":
                ns = "maluku_islam" if r == ISLAM else "maluku_kristen"
            elif style in ("ntt", "minahasa", "papua"):
                ns = "melayu" if r == ISLAM else style
            else:  # kristen_lokal: Dayak, Toraja, Poso …
                ns = "melayu" if r == ISLAM else "kristen_umum"
            if r in (HINDU, BUDHA) and style == "bali":
                ns = "bali"
            table[s, r] = NS[ns]
    return table


NAMING = _naming_table()

Table = tuple[IntArray, FloatArray]


@dataclass
class NameBook:
    """Token vocabulary and per-group distributions, built once per process."""

    tokens: list[str] = field(default_factory=list)
    index: dict[str, int] = field(default_factory=dict)
    pools: dict[str, Table] = field(default_factory=dict)
    slots: dict[str, list[Table | None]] = field(default_factory=dict)
    surnames: list[Table | None] = field(default_factory=list)
    surname_share: FloatArray = field(default_factory=lambda: np.zeros(0))
    boru: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    bali: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    andi: int = -1
    vocab: pa.Array = field(default_factory=lambda: pa.array([], type=pa.string()))

    def token(self, text: str) -> int:
        text = text.replace("_", " ")
        if text not in self.index:
            self.index[text] = len(self.tokens)
            self.tokens.append(text)
        return self.index[text]

    def add_pool(self, name: str, words: list[str], weights: list[float] | None = None) -> None:
        ids = np.array([self.token(w) for w in words], dtype=np.int64)
        w = np.asarray(
            weights if weights is not None else 1.0 / np.arange(1, len(words) + 1) ** ZIPF
        )
        self.pools[name] = (ids, w / w.sum())

    def mix(self, parts: Mix, p_total: float = 1.0) -> Table:
        """A mixture of pools; with p_total < 1 a "none" (-1) outcome takes the rest."""
        ids = [self.pools[name][0] for name, _ in parts]
        ws = [self.pools[name][1] * share for name, share in parts]
        all_ids, all_w = np.concatenate(ids), np.concatenate(ws)
        all_w = all_w / all_w.sum() * p_total
        if p_total < 1.0:
            all_ids = np.append(all_ids, -1)
            all_w = np.append(all_w, 1.0 - p_total)
        return all_ids, cumulative(all_w)


def group_key(
    ns: npt.NDArray[np.integer], sex: npt.NDArray[np.integer], era: npt.NDArray[np.integer]
) -> IntArray:
    key: IntArray = ((ns.astype(np.int64) * 2 + sex) * 2 + era).astype(np.int64)
    return key


N_GROUPS = len(NAME_STYLES) * 4


@lru_cache(maxsize=1)
def name_book() -> NameBook:
    book = NameBook()
    book.add_pool("muhammad", list(np_.MUHAMMAD_VARIANTS), list(np_.MUHAMMAD_VARIANTS.values()))
    for name, text in np_.POOLS.items():
        book.add_pool(name, text.split())
    slot_names = ("prefix", "first", "second", "third")
    book.slots = {s: [None] * N_GROUPS for s in slot_names}
    for ns_name, by_sex in SPECS.items():
        for sex, sx in (("m", 0), ("f", 1)):
            spec = by_sex[sex]
            for era in (0, 1):
                g = int(group_key(np.array([NS[ns_name]]), np.array([sx]), np.array([era]))[0])
                m = spec.modern if era == 1 else 0.0
                first = tuple((p, w * (1 - m)) for p, w in spec.first)
                second = tuple((p, w * (1 - m)) for p, w in spec.second)
                if m > 0:
                    first += ((f"modern_{sex}", m),)
                    second += ((f"modern_{sex}_last", m),)
                book.slots["first"][g] = book.mix(first)
                book.slots["second"][g] = book.mix(second, spec.p2[era])
                if spec.third:
                    book.slots["third"][g] = book.mix(spec.third, spec.p3[era])
                if spec.prefix:
                    total = sum(p[era] for _, p in spec.prefix)
                    parts = tuple((name, p[era]) for name, p in spec.prefix)
                    book.slots["prefix"][g] = book.mix(parts, total)
    male_specs = [SPECS[ns]["m"] for ns in NAME_STYLES]
    book.surnames = [book.mix(((sp.surname, 1.0),)) if sp.surname else None for sp in male_specs]
    book.surname_share = np.array([sp.p_surname if sp.surname else 0.0 for sp in male_specs])
    # Balinese title table: [sex, caste, order, variant, with birth-order name].
    bali = np.zeros((2, 5, 4, 3, 2), dtype=np.int64)
    for sx, sex in enumerate(("m", "f")):
        for caste, title in enumerate(np_.BALI_TITLE[sex]):
            for order, variants in enumerate(np_.BALI_ORDER[sex]):
                for v, word in enumerate(variants):
                    bali[sx, caste, order, v, 0] = book.token(title)
                    bali[sx, caste, order, v, 1] = book.token(f"{title}_{word}")
    book.bali = bali
    book.andi = book.token("ANDI")
    pairs = [(int(m), book.token(f"BR_{book.tokens[m]}")) for m in book.pools["marga_toba"][0]]
    book.boru = np.arange(len(book.tokens), dtype=np.int64)  # identity: not a marga, no BR
    for marga_id, br_id in pairs:
        book.boru[marga_id] = br_id
    book.vocab = pa.array(book.tokens, type=pa.string())
    return book


def era_of(birth_year: npt.NDArray[np.integer]) -> IntArray:
    return (birth_year >= YOUNG_FROM).astype(np.int64)


def draw_surnames(rng: np.random.Generator, ns: npt.NDArray[np.integer]) -> IntArray:
    """A family name from each person's naming style (-1 where the style has none)."""
    book = name_book()
    return Grouper(ns, len(NAME_STYLES)).draw_from(rng, book.surnames)


def draw_names(
    rng: np.random.Generator,
    ns: npt.NDArray[np.integer],
    sex: npt.NDArray[np.integer],
    era: npt.NDArray[np.integer],
    surname: IntArray,
    title: IntArray,
) -> pa.Array:
    """Full names (upper case, as SIAK stores them) for the given styles, sexes and eras."""
    book = name_book()
    grouper = Grouper(group_key(ns, sex, era), N_GROUPS)
    prefix = grouper.draw_from(rng, book.slots["prefix"])
    first = grouper.draw_from(rng, book.slots["first"])
    second = grouper.draw_from(rng, book.slots["second"])
    third = grouper.draw_from(rng, book.slots["third"])
    # A prefixed name (MUHAMMAD RIZKI) needs a second given name less often.
    second[(prefix >= 0) & (rng.random(ns.size) < 0.5)] = -1
    second[second == first] = -1
    third[(second < 0) | (third == second) | (third == first)] = -1
    parts = [take(book.vocab, ids) for ids in (title, prefix, first, second, third, surname)]
    return join(parts)
