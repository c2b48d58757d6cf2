"""Provinces: population, ethnic mix, household size, welfare; religion by tradition.

Figures are rounded public aggregates (census orders of magnitude), not microdata.
"""

from __future__ import annotations

from dataclasses import dataclass

# Ethnic naming styles (how a family names its children); see names.py.
STYLES = (
    "jawa",
    "sunda",
    "melayu",
    "minang",
    "bugis",
    "batak",
    "bali",
    "tionghoa",
    "ntt",
    "maluku",
    "minahasa",
    "papua",
    "kristen_lokal",
)
S = {name: i for i, name in enumerate(STYLES)}

AGAMA = (
    "ISLAM",
    "KRISTEN",
    "KATHOLIK",
    "HINDU",
    "BUDHA",
    "KHONGHUCU",
    "KEPERCAYAAN TERHADAP TUHAN YME",
)
ISLAM, KRISTEN, KATHOLIK, HINDU, BUDHA, KHONGHUCU, KEPERCAYAAN = range(7)


@dataclass(frozen=True)
class Province:
    population: float  # millions, rounded
    styles: dict[str, float]
    children: float  # mean children at home for a couple in its thirties/forties
    extended: float  # multiplier on parents, grandchildren and relatives in the household
    wealth: float  # shift of the welfare score


JAVA = {"31", "32", "33", "34", "35", "36"}
_PAPUA = {"papua": 0.7, "jawa": 0.12, "bugis": 0.1, "maluku": 0.04, "ntt": 0.04}

PROVINCES: dict[str, Province] = {
    "11": Province(5.5, {"melayu": 0.9, "jawa": 0.08, "batak": 0.02}, 2.0, 1.2, -0.2),
    "12": Province(
        15.6, {"batak": 0.55, "melayu": 0.15, "jawa": 0.25, "tionghoa": 0.05}, 2.0, 1.2, 0.0
    ),
    "13": Province(
        5.8, {"minang": 0.88, "batak": 0.04, "jawa": 0.06, "melayu": 0.02}, 2.0, 1.2, 0.05
    ),
    "14": Province(
        6.7,
        {"melayu": 0.4, "jawa": 0.3, "minang": 0.12, "batak": 0.13, "tionghoa": 0.05},
        1.9,
        1.0,
        0.2,
    ),
    "15": Province(
        3.7,
        {"melayu": 0.5, "jawa": 0.33, "minang": 0.1, "batak": 0.05, "tionghoa": 0.02},
        1.8,
        1.0,
        0.0,
    ),
    "16": Province(8.8, {"melayu": 0.7, "jawa": 0.27, "tionghoa": 0.03}, 1.8, 1.0, -0.1),
    "17": Province(
        2.1, {"melayu": 0.65, "jawa": 0.25, "minang": 0.05, "sunda": 0.05}, 1.8, 1.0, -0.2
    ),
    "18": Province(
        9.4,
        {"jawa": 0.6, "melayu": 0.25, "sunda": 0.12, "bali": 0.02, "tionghoa": 0.01},
        1.7,
        1.0,
        -0.15,
    ),
    "19": Province(1.5, {"melayu": 0.65, "tionghoa": 0.3, "jawa": 0.05}, 1.7, 0.9, 0.15),
    "21": Province(
        2.2,
        {
            "melayu": 0.4,
            "jawa": 0.25,
            "batak": 0.12,
            "tionghoa": 0.1,
            "minang": 0.1,
            "bugis": 0.03,
        },
        1.6,
        0.8,
        0.4,
    ),
    "31": Province(
        10.7,
        {
            "jawa": 0.4,
            "melayu": 0.25,
            "sunda": 0.15,
            "tionghoa": 0.06,
            "batak": 0.05,
            "minang": 0.04,
            "bugis": 0.01,
            "minahasa": 0.02,
            "maluku": 0.01,
            "ntt": 0.01,
        },
        1.4,
        0.8,
        0.7,
    ),
    "32": Province(
        50.3,
        {"sunda": 0.75, "jawa": 0.15, "melayu": 0.06, "tionghoa": 0.02, "batak": 0.02},
        1.6,
        0.9,
        0.0,
    ),
    "33": Province(37.9, {"jawa": 0.97, "tionghoa": 0.02, "sunda": 0.01}, 1.5, 0.9, -0.1),
    "34": Province(
        3.8,
        {"jawa": 0.96, "tionghoa": 0.01, "ntt": 0.01, "papua": 0.01, "batak": 0.01},
        1.4,
        0.9,
        0.1,
    ),
    "35": Province(41.8, {"jawa": 0.8, "melayu": 0.18, "tionghoa": 0.02}, 1.4, 0.9, 0.0),
    "36": Province(
        12.4,
        {"sunda": 0.55, "jawa": 0.2, "melayu": 0.2, "tionghoa": 0.03, "batak": 0.02},
        1.7,
        0.9,
        0.1,
    ),
    "51": Province(
        4.4, {"bali": 0.87, "jawa": 0.1, "melayu": 0.02, "tionghoa": 0.01}, 1.6, 1.3, 0.35
    ),
    "52": Province(5.6, {"melayu": 0.93, "bali": 0.04, "jawa": 0.03}, 1.9, 1.1, -0.3),
    "53": Province(
        5.6, {"ntt": 0.9, "melayu": 0.08, "bali": 0.01, "tionghoa": 0.01}, 2.6, 1.5, -0.6
    ),
    "61": Province(
        5.6,
        {
            "melayu": 0.35,
            "kristen_lokal": 0.35,
            "tionghoa": 0.12,
            "jawa": 0.1,
            "bugis": 0.05,
            "batak": 0.03,
        },
        1.9,
        1.1,
        -0.1,
    ),
    "62": Province(
        2.8, {"kristen_lokal": 0.45, "melayu": 0.25, "jawa": 0.25, "bugis": 0.05}, 1.8, 1.0, 0.0
    ),
    "63": Province(
        4.2, {"melayu": 0.75, "jawa": 0.15, "kristen_lokal": 0.05, "bugis": 0.05}, 1.8, 1.0, 0.1
    ),
    "64": Province(
        4.0,
        {
            "jawa": 0.3,
            "bugis": 0.25,
            "melayu": 0.2,
            "kristen_lokal": 0.12,
            "minahasa": 0.03,
            "batak": 0.04,
            "ntt": 0.03,
            "tionghoa": 0.03,
        },
        1.7,
        0.9,
        0.4,
    ),
    "65": Province(
        0.7,
        {"kristen_lokal": 0.3, "bugis": 0.3, "jawa": 0.2, "melayu": 0.15, "ntt": 0.05},
        1.9,
        1.0,
        0.1,
    ),
    "71": Province(
        2.7,
        {"minahasa": 0.7, "melayu": 0.2, "tionghoa": 0.03, "jawa": 0.03, "maluku": 0.04},
        1.5,
        1.0,
        0.05,
    ),
    "72": Province(
        3.1,
        {"bugis": 0.4, "melayu": 0.35, "jawa": 0.1, "kristen_lokal": 0.1, "bali": 0.05},
        2.0,
        1.1,
        -0.2,
    ),
    "73": Province(
        9.4, {"bugis": 0.88, "kristen_lokal": 0.07, "jawa": 0.03, "tionghoa": 0.02}, 1.9, 1.2, 0.0
    ),
    "74": Province(2.8, {"bugis": 0.55, "melayu": 0.3, "jawa": 0.1, "bali": 0.05}, 2.1, 1.1, -0.15),
    "75": Province(1.2, {"melayu": 0.95, "jawa": 0.03, "minahasa": 0.02}, 1.8, 1.1, -0.35),
    "76": Province(
        1.5, {"bugis": 0.7, "melayu": 0.15, "kristen_lokal": 0.1, "jawa": 0.05}, 2.1, 1.2, -0.25
    ),
    "81": Province(
        1.9,
        {"maluku": 0.85, "bugis": 0.08, "jawa": 0.04, "tionghoa": 0.01, "ntt": 0.02},
        2.3,
        1.3,
        -0.4,
    ),
    "82": Province(
        1.4, {"maluku": 0.55, "melayu": 0.35, "jawa": 0.05, "minahasa": 0.05}, 2.2, 1.2, -0.1
    ),
    "91": Province(1.0, _PAPUA, 2.4, 1.4, -0.6),
    "92": Province(0.56, _PAPUA, 2.4, 1.4, -0.5),
    "93": Province(
        0.53, {"papua": 0.55, "jawa": 0.2, "bugis": 0.1, "ntt": 0.1, "maluku": 0.05}, 2.4, 1.4, -0.6
    ),
    "94": Province(
        1.45,
        {"papua": 0.8, "bugis": 0.08, "jawa": 0.06, "ntt": 0.03, "maluku": 0.03},
        2.6,
        1.5,
        -0.8,
    ),
    "95": Province(
        1.45, {"papua": 0.97, "jawa": 0.01, "bugis": 0.01, "maluku": 0.01}, 2.8, 1.6, -1.0
    ),
    "96": Province(0.6, _PAPUA, 2.4, 1.4, -0.5),
}

# Religion by naming style (ISLAM, KRISTEN, KATHOLIK, HINDU, BUDHA, KHONGHUCU, KEPERCAYAAN).
RELIGION_BY_STYLE: dict[str, tuple[float, ...]] = {
    "jawa": (96.5, 1.7, 1.3, 0.2, 0.2, 0.0, 0.1),
    "sunda": (98.5, 1.0, 0.4, 0.0, 0.0, 0.0, 0.1),
    "melayu": (99.0, 0.5, 0.3, 0.0, 0.2, 0.0, 0.0),
    "minang": (99.5, 0.3, 0.2, 0.0, 0.0, 0.0, 0.0),
    "bugis": (97.0, 2.0, 1.0, 0.0, 0.0, 0.0, 0.0),
    "batak": (28.0, 60.0, 12.0, 0.0, 0.0, 0.0, 0.0),
    "bali": (3.0, 2.0, 2.0, 92.0, 1.0, 0.0, 0.0),
    "tionghoa": (3.0, 30.0, 15.0, 0.0, 45.0, 7.0, 0.0),
    "ntt": (2.0, 42.0, 56.0, 0.0, 0.0, 0.0, 0.0),
    "maluku": (35.0, 60.0, 5.0, 0.0, 0.0, 0.0, 0.0),
    "minahasa": (2.0, 88.0, 10.0, 0.0, 0.0, 0.0, 0.0),
    "papua": (2.0, 75.0, 23.0, 0.0, 0.0, 0.0, 0.0),
    "kristen_lokal": (5.0, 50.0, 40.0, 4.0, 0.0, 0.0, 1.0),
}
# Where a style's religion differs markedly by province.
RELIGION_OVERRIDES: dict[tuple[str, str], tuple[float, ...]] = {
    ("82", "maluku"): (80.0, 18.0, 2.0, 0.0, 0.0, 0.0, 0.0),
    ("93", "papua"): (2.0, 40.0, 58.0, 0.0, 0.0, 0.0, 0.0),
    ("51", "jawa"): (70.0, 8.0, 7.0, 14.0, 1.0, 0.0, 0.0),
}
