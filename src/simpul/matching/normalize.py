"""Indonesian name and address normalisation for comparison (never for display).

What real lists do to a name: titles and degrees (H., Hj., Dr., Drs., S.Pd., M.Si.), the
many spellings of Muhammad (M., MUH., MOCH., MOHAMAD …), the pre-1972 spelling (Soeharto /
Suharto, Djoko / Joko, Tjahjo / Cahyo, Sjarif / Syarif, Chairul / Khairul, Njoman / Nyoman),
doubled letters, bin/binti, initials, punctuation and spacing. `name_key` folds all of these
so two spellings of one name compare equal; `name_similarity` scores what remains (0–100).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from datetime import date, datetime
from functools import lru_cache

from rapidfuzz.distance import JaroWinkler

# Prefix titles (religious, academic, nobility kept out: RADEN is part of a Javanese name).
_PREFIX_TITLES = frozenset(
    "H HJ HAJI HAJJAH DR DRS DRA IR PROF KH KYAI NY TN SDR SDRI BPK IBU ALM ALMH".split()
)
# Academic degrees as written after the name, dots removed (S.Pd. → SPD).
_DEGREES = frozenset(
    """
    SPD SSOS SE SH SKOM SIP SAG SPDI SHI SST ST SKM SKEP SFARM SPSI SSI SS SP SPT SKED SIKOM
    SHUT SKG SAP STP SKEB SGZ SIKOM SAK SMB SSTP SPOL SPI SSN SDS SANT SIKOM SFIL STH STR STRKEB
    MSI MPD MM MSC MA MH MAP MKES MKOM MT MAG MPDI MHUM MEC MBA MT MSOS MKM MPH MTI MIKOM
    MFARM MP MIP MSN MSTAT MKN MHI MSIS MENG MSE MPSI
    AMD AMKEB AMKEP AMFARM AMG AMAK AMKL AMPD AMTE AMRO AMK
    PHD DR DRG APT NS BSC BA LLM MD SPOG SPA SPPD SPB SPM SPS SPKK SPTHT SPJP SPAN SPRAD
    """.split()
)
_MUHAMMAD = frozenset(
    """
    MUHAMMAD MUHAMAD MUHAMMED MUHAMED MOHAMMAD MOHAMAD MOHAMMED MOHAMED MOCHAMMAD MOCHAMAD
    MOCHAMED MOCH MOCHD MUCHAMMAD MUCHAMAD MUH MUHD MOH MOHD MHD MHMD MUHAMMMAD MOHAMMAT
    MUHAMMAT MUKHAMMAD MUKHAMAD MOKHAMAD MOKHAMMAD
    """.split()
)
_PATRONYMIC = frozenset({"BIN", "BINTI", "BT", "BINT", "BINTE"})
# Old (Van Ophuijsen / Soewandi) spellings → EYD, longest first.
_OLD_SPELLING = (("OE", "U"), ("DJ", "J"), ("TJ", "C"), ("CH", "KH"))
_NON_ALNUM = re.compile(r"[^A-Z0-9 ]+")
_SPACES = re.compile(r"\s+")
_DOUBLE = re.compile(r"([A-Z])\1+")


def fold(text: str) -> str:
    """Upper case, accents removed, apostrophes dropped, other punctuation to spaces."""
    decomposed = unicodedata.normalize("NFKD", text)
    ascii_text = decomposed.encode("ascii", "ignore").decode("ascii").upper()
    ascii_text = ascii_text.replace("'", "").replace("`", "")
    return _SPACES.sub(" ", _NON_ALNUM.sub(" ", ascii_text)).strip()


def _strip_degrees(raw: str) -> str:
    """Drop what follows the first comma when it is only degrees (`BUDI, S.PD., M.SI`)."""
    head, sep, tail = raw.partition(",")
    if not sep:
        return raw
    tail_tokens = fold(tail.replace(".", "")).split()
    if all(t in _DEGREES for t in tail_tokens):
        return head
    return raw


def clean_name(raw: str) -> str:
    """A name as a person would write it without titles, degrees and punctuation."""
    text = _strip_degrees(raw or "")
    # Dotted abbreviations become single tokens: S.Pd. → SPD, M. → M.
    tokens = fold(re.sub(r"(?<=[A-Za-z])\.(?=[A-Za-z]\b|[A-Za-z]{1,3}\.)", "", text)).split()
    while tokens and tokens[0] in _PREFIX_TITLES and len(tokens) > 1:
        tokens.pop(0)
    while tokens and tokens[-1] in _DEGREES and len(tokens) > 1:
        tokens.pop()
    return " ".join(tokens)


@lru_cache(maxsize=200_000)
def _spelling(token: str) -> str:
    # J before a vowel was the old Y (Jusuf → Yusuf): fold Y into J first, so SY/SJ and
    # NY/NJ agree too; then the other old spellings; doubled letters count once.
    token = _DOUBLE.sub(r"\1", token.replace("Y", "J"))
    for old, new in _OLD_SPELLING:
        token = token.replace(old, new)
    return _DOUBLE.sub(r"\1", token)


def _key_once(raw: str) -> str:
    tokens = clean_name(raw).split()
    out: list[str] = []
    for i, tok in enumerate(tokens):
        if tok in _PATRONYMIC and i > 0:
            continue
        if tok in _MUHAMMAD or (tok == "M" and i == 0 and len(tokens) > 1):
            out.append("MUHAMAD")  # as _spelling leaves it
            continue
        out.append(_spelling(tok))
    return " ".join(out)


@lru_cache(maxsize=200_000)
def name_key(raw: str) -> str:
    """Canonical comparison form. Equal keys mean "the same name written differently".

    Folding can expose a new title (HH → H), so fold until nothing changes.
    """
    key = _key_once(raw)
    for _ in range(5):
        again = _key_once(key)
        if again == key:
            break
        key = again
    return key


def _initials_match(a: list[str], b: list[str]) -> bool:
    """`S WAHYUNI` vs `SRI WAHYUNI`: same length, each token equal or an initial of the other."""
    if len(a) != len(b):
        return False
    for x, y in zip(a, b, strict=True):
        if x == y:
            continue
        if len(x) == 1 and y.startswith(x):
            continue
        if len(y) == 1 and x.startswith(y):
            continue
        return False
    return True


# Tokens so common that sharing them says little (keys after folding).
_COMMON = frozenset(
    """
    MUHAMAD SITI NUR NURUL SRI AHMAD ABDUL I NI PUTU MADE KADEK KETUT WAJAN NJOMAN
    KOMANG GEDE DEWI AGUS BUDI ANDI DEDI RATNA WATI JANTI
    """.split()
)


def _weight(token: str) -> float:
    return 0.3 if token in _COMMON or len(token) == 1 else 1.0


def _token_score(short: list[str], long_: list[str]) -> float:
    """Each token of the shorter name aligned to its best unused partner, weighted so that
    sharing MUHAMMAD or SITI counts for little and the distinctive tokens decide."""
    unused = list(long_)
    total = weight_sum = 0.0
    for tok in short:
        best_i, best = 0, -1.0
        for i, other in enumerate(unused):
            sim = JaroWinkler.normalized_similarity(tok, other)
            if sim > best:
                best_i, best = i, sim
        unused.pop(best_i)
        w = _weight(tok)
        total += w * best
        weight_sum += w
    # Tokens only the longer name has (a second name, a father's name) cost a little.
    extra = sum(_weight(t) for t in unused)
    return total / (weight_sum + 0.25 * extra) if weight_sum else 0.0


def name_similarity(a: str, b: str) -> float:
    """0–100. 100 for the same name in any spelling; high for typos; low for other names."""
    ka, kb = name_key(a), name_key(b)
    if not ka or not kb:
        return 0.0
    if ka == kb:
        return 100.0
    ta, tb = ka.split(), kb.split()
    if _initials_match(ta, tb):
        return 95.0
    short, long_ = (ta, tb) if (len(ta), ka) <= (len(tb), kb) else (tb, ta)
    score = _token_score(short, long_) * 100
    # BUDI SANTOSO vs BUDI SANTOSO BIN AHMAD: a name contained in the other, if it has a
    # distinctive token, is the same person written at greater length.
    contained = len(short) < len(long_) and all(t in long_ for t in short)
    if contained and any(_weight(t) == 1.0 for t in short):
        score = max(score, 90.0)
    return round(min(score, 99.0), 1)


_ADDRESS_WORDS = {
    "JALAN": "JL",
    "JLN": "JL",
    "GANG": "GG",
    "NOMOR": "NO",
    "NOMER": "NO",
    "KOMPLEK": "KOMP",
    "KOMPLEKS": "KOMP",
    "PERUMAHAN": "PERUM",
    "DUSUN": "DSN",
    "DESA": "DS",
    "KELURAHAN": "KEL",
    "KECAMATAN": "KEC",
    "KABUPATEN": "KAB",
    "BLOK": "BLK",
    "LINGKUNGAN": "LINGK",
}


def address_key(raw: str) -> str:
    """Street abbreviations unified (JALAN → JL, GANG → GG, NOMOR → NO), punctuation gone."""
    tokens = [_ADDRESS_WORDS.get(t, t) for t in fold(raw or "").split()]
    return " ".join(_spelling(t) for t in tokens)


def address_similarity(a: str, b: str) -> float:
    ka, kb = address_key(a), address_key(b)
    if not ka or not kb:
        return 0.0
    if ka == kb:
        return 100.0
    from rapidfuzz import fuzz

    return round(float(fuzz.token_sort_ratio(ka, kb)), 1)


# --- Identifiers and dates as lists write them -------------------------------------------

_DMY = re.compile(r"(\d{1,2})[-/.](\d{1,2})[-/.](\d{2}|\d{4})")
_YMD = re.compile(r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})")


@lru_cache(maxsize=100_000)
def _parse_date_text(text: str) -> date | None:
    if m := _YMD.fullmatch(text):
        y, mo, d = int(m[1]), int(m[2]), int(m[3])
    elif m := _DMY.fullmatch(text):
        d, mo, y = int(m[1]), int(m[2]), int(m[3])
        if len(m[3]) == 2:  # 25-12-80: a birth year, so never in the future
            y += 1900 if y > date.today().year % 100 else 2000
    else:
        return None
    if y < 1900:
        return None
    try:
        return date(y, mo, d)
    except ValueError:
        return None


def parse_date(raw: object) -> date | None:
    """A birth date as lists write it (25-12-1980, 25/12/1980, 1980-12-25, a spreadsheet
    date); None when it is not a date."""
    if raw is None:
        return None
    if isinstance(raw, datetime):
        return raw.date()
    if isinstance(raw, date):
        return raw
    text = str(raw).strip()
    if " " in text:  # "1980-12-25 00:00:00" from a spreadsheet export
        text = text.split(" ", 1)[0]
    return _parse_date_text(text) if text else None


def swapped_day_month(value: date) -> date | None:
    """12-03 ↔ 03-12: the date with day and month exchanged, when that is another date."""
    if value.day > 12 or value.day == value.month:
        return None
    return date(value.year, value.day, value.month)


def nik_edits(nik: str) -> list[tuple[str, str]]:
    """Every NIK one slip away: one digit wrong (`salah_digit`) or two neighbours swapped
    (`tertukar`). The first digit (province) is kept: it is what people get right."""
    if len(nik) != 16 or not nik.isdigit():
        return []
    out: list[tuple[str, str]] = []
    for i in range(1, 16):
        for d in "0123456789":
            if d != nik[i]:
                out.append((nik[:i] + d + nik[i + 1 :], "salah_digit"))
    for i in range(1, 15):
        if nik[i] != nik[i + 1]:
            out.append((nik[:i] + nik[i + 1] + nik[i] + nik[i + 2 :], "tertukar"))
    return out


def nik_date_consistent(nik: str, born: date | None, sex: str | None = None) -> bool:
    """Does the NIK's DDMMYY (day + 40 for women) agree with the birth date (either way
    round for day and month) and, when known, with the sex?"""
    if born is None or len(nik) != 16 or not nik.isdigit():
        return False
    dd, mm, yy = int(nik[6:8]), int(nik[8:10]), int(nik[10:12])
    female = dd > 40
    if sex is not None and sex != "" and (sex.upper().startswith("P") != female):
        return False
    day = dd - 40 if female else dd
    if yy != born.year % 100:
        return False
    return (day, mm) in {(born.day, born.month), (born.month, born.day)}


def nik_repair_candidates(
    nik: str, born: date | None, sex: str | None, known: Callable[[str], bool]
) -> list[tuple[str, str]]:
    """NIKs one slip away that exist (`known`) and whose date part agrees with the birth
    date and sex the list gives: the NIK the person most likely has."""
    return [(c, how) for c, how in nik_edits(nik) if nik_date_consistent(c, born, sex) and known(c)]


# --- Blocking keys (the same on the list and the registry side) ---------------------------

_VOWELS = frozenset("AEIOU")
_PHONETIC_PAIRS = (("KH", "H"), ("DH", "D"), ("TH", "T"), ("PH", "P"), ("SJ", "S"), ("NJ", "N"))
_PHONETIC_LETTERS = str.maketrans({"Q": "K", "C": "K", "X": "K", "F": "P", "V": "P", "Z": "S"})


@lru_cache(maxsize=200_000)
def phonetic_token(token: str) -> str:
    """A coarse sound code of one name-key token, for blocking only: KH/H, Q/C/K, F/V/P,
    Z/S and SJ/S (SYARIF, SJARIF, SARIF) are one sound, H and vowels after the first
    letter are dropped, repeats count once and a final D is a T (AHMAD, AKHMAT, ACHMAD →
    AMT)."""
    if not token:
        return ""
    t = token
    for old, new in _PHONETIC_PAIRS:
        t = t.replace(old, new)
    t = t.translate(_PHONETIC_LETTERS)
    out = [t[0]]
    for ch in t[1:]:
        if ch in _VOWELS or ch == "H":
            continue
        if ch != out[-1]:
            out.append(ch)
    if len(out) > 1 and out[-1] == "D":
        out[-1] = "T"
    return "".join(out)


def phonetic_key(key: str) -> str:
    """The sound codes of a name key's tokens, in the key's order (one space apart)."""
    return " ".join(phonetic_token(t) for t in key.split())


def name_columns(names: list[str | None]) -> tuple[list[str], list[str]]:
    """(name key, sorted sound codes) per name, each distinct name folded once: what the
    registry stores beside the name at snapshot, and what a list row is compared and
    blocked with. The codes are sorted so that a name written surname first blocks with
    the same key."""
    keys: dict[str, tuple[str, str]] = {}
    out_key: list[str] = []
    out_sound: list[str] = []
    for raw in names:
        text = raw or ""
        got = keys.get(text)
        if got is None:
            k = name_key(text)
            got = keys[text] = (k, " ".join(sorted(phonetic_key(k).split())))
        out_key.append(got[0])
        out_sound.append(got[1])
    return out_key, out_sound


def date_variants(value: date) -> list[date]:
    """The birth date as written, with day and month exchanged, and every date one digit
    away in DDMMYYYY (a typo), years 1900–2099: the dates the true one may hide behind."""
    seen = {value}
    out = [value]
    swapped = swapped_day_month(value)
    if swapped is not None:
        seen.add(swapped)
        out.append(swapped)
    text = f"{value.day:02d}{value.month:02d}{value.year:04d}"
    for pos in range(8):
        for digit in "0123456789":
            if digit == text[pos]:
                continue
            typo = text[:pos] + digit + text[pos + 1 :]
            d, m, y = int(typo[:2]), int(typo[2:4]), int(typo[4:])
            if not 1900 <= y <= 2099:
                continue
            try:
                cand = date(y, m, d)
            except ValueError:
                continue
            if cand not in seen:
                seen.add(cand)
                out.append(cand)
    return out
