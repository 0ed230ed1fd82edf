"""A gazetteer of English local authorities with children's services, and finding them in text.

Canonical names follow Ofsted's usage ("Slough", "Kingston upon Hull", "Durham"). Each name also
matches its common variants: "&" for "and", hyphens for spaces ("Stoke-on-Trent"), "on" for
"upon", "St."/"Saint" for "St", an optional comma ("Bournemouth Christchurch and Poole"), a
possessive ("Kent's", "Slough’s"), and any listed short forms ("Hull", "Telford", "BCP").

Matching ignores case, except for names that are also ordinary English words ("Reading",
"Bury", "Hull", ...), which must be capitalised. "Reading" and "Bury" at the start of a sentence
("Reading the report, ...") count only with a council cue: a possessive or a following
"Council", "Borough Council", "children's services" or "local authority".

When names overlap, the longest, leftmost mention wins: "North Somerset" is not also "Somerset",
"Windsor and Maidenhead" is one council, "Kingston upon Hull" is not "Kingston".
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# (canonical name, extra aliases). The 153 councils responsible for children's services in
# England since April 2023: county councils, unitary authorities, metropolitan boroughs,
# London boroughs, the City of London and the Isles of Scilly.
COUNCILS: tuple[tuple[str, tuple[str, ...]], ...] = (
    # County councils
    ("Cambridgeshire", ("Cambs",)),
    ("Derbyshire", ()),
    ("Devon", ()),
    ("East Sussex", ()),
    ("Essex", ()),
    ("Gloucestershire", ("Glos",)),
    ("Hampshire", ("Hants",)),
    ("Hertfordshire", ("Herts",)),
    ("Kent", ()),
    ("Lancashire", ("Lancs",)),
    ("Leicestershire", ("Leics",)),
    ("Lincolnshire", ("Lincs",)),
    ("Norfolk", ()),
    ("Nottinghamshire", ("Notts",)),
    ("Oxfordshire", ("Oxon",)),
    ("Staffordshire", ("Staffs",)),
    ("Suffolk", ()),
    ("Surrey", ()),
    ("Warwickshire", ("Warks",)),
    ("West Sussex", ()),
    ("Worcestershire", ("Worcs",)),
    # Unitary authorities
    ("Bath and North East Somerset", ("BANES",)),
    ("Bedford", ()),
    ("Blackburn with Darwen", ("Blackburn",)),
    ("Blackpool", ()),
    ("Bournemouth, Christchurch and Poole", ("BCP",)),
    ("Bracknell Forest", ()),
    ("Brighton and Hove", ("Brighton",)),
    ("Bristol", ("City of Bristol",)),
    ("Buckinghamshire", ("Bucks",)),
    ("Central Bedfordshire", ()),
    ("Cheshire East", ()),
    ("Cheshire West and Chester", ("Cheshire West",)),
    ("Cornwall", ()),
    ("Cumberland", ()),
    ("Darlington", ()),
    ("Derby", ()),
    ("Dorset", ()),
    ("Durham", ("County Durham",)),
    ("East Riding of Yorkshire", ("East Riding",)),
    ("Halton", ()),
    ("Hartlepool", ()),
    ("Herefordshire", ("County of Herefordshire",)),
    ("Isle of Wight", ()),
    ("Kingston upon Hull", ("Hull",)),
    ("Leicester", ()),
    ("Luton", ()),
    ("Medway", ()),
    ("Middlesbrough", ()),
    ("Milton Keynes", ()),
    ("North East Lincolnshire", ("North East Lincs", "NE Lincs")),
    ("North Lincolnshire", ("North Lincs",)),
    ("North Northamptonshire", ()),
    ("North Somerset", ()),
    ("North Yorkshire", ()),
    ("Northumberland", ()),
    ("Nottingham", ()),
    ("Peterborough", ()),
    ("Plymouth", ()),
    ("Portsmouth", ()),
    ("Reading", ()),
    ("Redcar and Cleveland", ("Redcar",)),
    ("Rutland", ()),
    ("Shropshire", ()),
    ("Slough", ()),
    ("Somerset", ()),
    ("South Gloucestershire", ("South Glos",)),
    ("Southampton", ()),
    ("Southend-on-Sea", ("Southend",)),
    ("Stockton-on-Tees", ("Stockton",)),
    ("Stoke-on-Trent", ("Stoke",)),
    ("Swindon", ()),
    ("Telford and Wrekin", ("Telford",)),
    ("Thurrock", ()),
    ("Torbay", ()),
    ("Warrington", ()),
    ("West Berkshire", ()),
    ("West Northamptonshire", ()),
    ("Westmorland and Furness", ()),
    ("Wiltshire", ("Wilts",)),
    ("Windsor and Maidenhead", ("RBWM",)),
    ("Wokingham", ()),
    ("York", ()),
    # Metropolitan boroughs
    ("Barnsley", ()),
    ("Birmingham", ()),
    ("Bolton", ()),
    ("Bradford", ()),
    ("Bury", ()),
    ("Calderdale", ()),
    ("Coventry", ()),
    ("Doncaster", ()),
    ("Dudley", ()),
    ("Gateshead", ()),
    ("Kirklees", ()),
    ("Knowsley", ()),
    ("Leeds", ()),
    ("Liverpool", ()),
    ("Manchester", ()),
    ("Newcastle upon Tyne", ("Newcastle",)),
    ("North Tyneside", ()),
    ("Oldham", ()),
    ("Rochdale", ()),
    ("Rotherham", ()),
    ("St Helens", ()),
    ("Salford", ()),
    ("Sandwell", ()),
    ("Sefton", ()),
    ("Sheffield", ()),
    ("Solihull", ()),
    ("South Tyneside", ()),
    ("Stockport", ()),
    ("Sunderland", ()),
    ("Tameside", ()),
    ("Trafford", ()),
    ("Wakefield", ()),
    ("Walsall", ()),
    ("Wigan", ()),
    ("Wirral", ()),
    ("Wolverhampton", ()),
    # London boroughs and the City
    ("Barking and Dagenham", ("Barking",)),
    ("Barnet", ()),
    ("Bexley", ()),
    ("Brent", ()),
    ("Bromley", ()),
    ("Camden", ()),
    ("Croydon", ()),
    ("Ealing", ()),
    ("Enfield", ()),
    ("Greenwich", ()),
    ("Hackney", ()),
    ("Hammersmith and Fulham", ("Hammersmith", "LBHF")),
    ("Haringey", ()),
    ("Harrow", ()),
    ("Havering", ()),
    ("Hillingdon", ()),
    ("Hounslow", ()),
    ("Islington", ()),
    ("Kensington and Chelsea", ("Kensington", "RBKC")),
    ("Kingston upon Thames", ("Kingston",)),
    ("Lambeth", ()),
    ("Lewisham", ()),
    ("Merton", ()),
    ("Newham", ()),
    ("Redbridge", ()),
    ("Richmond upon Thames", ("Richmond",)),
    ("Southwark", ()),
    ("Sutton", ()),
    ("Tower Hamlets", ()),
    ("Waltham Forest", ()),
    ("Wandsworth", ()),
    ("Westminster", ()),
    ("City of London", ()),
    # Isles of Scilly
    ("Isles of Scilly", ("Scilly",)),
)

# Councils abolished since Ofsted began inspecting children's services, whose reports are still
# read: Cumbria (2023), Northamptonshire (2021), Bournemouth and Poole (2019).
FORMER_COUNCILS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Cumbria", ()),
    ("Northamptonshire", ()),
    ("Bournemouth", ()),
    ("Poole", ()),
)

# Names (or aliases) that are also ordinary words: matched only when capitalised.
CASE_SENSITIVE = frozenset(
    {
        "BANES",
        "BCP",
        "Bucks",
        "LBHF",
        "RBKC",
        "Staffs",
        "Wilts",
        "RBWM",
        "Barking",
        "Brent",
        "Bury",
        "Derby",
        "Hackney",
        "Harrow",
        "Havering",
        "Hull",
        "Reading",
        "Stoke",
    }
)
# Capitalised words that often start a sentence as ordinary words ("Reading the report, ...").
SENTENCE_START_AMBIGUOUS = frozenset({"Reading", "Bury"})

_SEP = r"[\s,\-]+"
_COUNCIL_CUE = re.compile(
    r"(?:['’]s?(?!\w)|\s+(?:borough\s+council|council|children['’]s|local\s+authority|LA\b))",
    re.IGNORECASE,
)
_SENTENCE_START = re.compile(r"(?:\A|[.!?;:\n])[\s\"'“‘(\[]*\Z")
# Mentions that look like a council name but are something else.
_NOT_AFTER = {"York": r"(?<![Nn]ew\s)"}


@dataclass(frozen=True)
class CouncilMention:
    name: str  # canonical council name
    text: str  # the text matched, e.g. "Telford & Wrekin"
    start: int  # character offset in the searched text
    end: int


def _word_pattern(word: str) -> str:
    if word.lower() in ("and", "&"):
        return "(?:and|&)"
    if word == "upon":
        return "(?:upon|on)"
    if word == "St":
        return r"(?:St\.?|Saint)"
    return re.escape(word)


def _body(alias: str) -> str:
    words = [w for w in re.split(r"[\s,\-]+", alias) if w]
    return _SEP.join(_word_pattern(w) for w in words)


def _compile(alias: str) -> re.Pattern[str]:
    body = _NOT_AFTER.get(alias, "") + r"(?<![\w&])" + _body(alias) + r"(?![\w&])"
    return re.compile(body, 0 if alias in CASE_SENSITIVE else re.IGNORECASE)


_PATTERNS: tuple[tuple[str, str, re.Pattern[str]], ...] = tuple(
    (name, alias, _compile(alias))
    for name, aliases in COUNCILS + FORMER_COUNCILS
    for alias in (name, *aliases)
)

COUNCIL_NAMES: tuple[str, ...] = tuple(name for name, _ in COUNCILS)

# Every alias at once, ignoring case and the "not after" guards: it matches wherever one of
# _PATTERNS could (and more), so a text it does not match names no council. Most questions
# name none, and one search (~17 us) is cheaper than 180 (~235 us).
_ANY = re.compile(
    r"(?<![\w&])(?:" + "|".join(_body(a) for _, a, _ in _PATTERNS) + r")(?![\w&])", re.IGNORECASE
)


def _plausible(alias: str, text: str, m: re.Match[str]) -> bool:
    """False for an ambiguous capitalised word opening a sentence without a council cue."""
    if alias not in SENTENCE_START_AMBIGUOUS:
        return True
    if not _SENTENCE_START.search(text[: m.start()]):
        return True
    return bool(_COUNCIL_CUE.match(text, m.end()))


def council_mentions(text: str) -> tuple[CouncilMention, ...]:
    """Every council mention in ``text``, in order; overlapping names keep the longest."""
    if not _ANY.search(text):
        return ()
    found = [
        (m.start(), m.end(), name)
        for name, alias, pattern in _PATTERNS
        for m in pattern.finditer(text)
        if _plausible(alias, text, m)
    ]
    found.sort(key=lambda f: (f[0], -(f[1] - f[0])))
    mentions: list[CouncilMention] = []
    last_end = -1
    for start, end, name in found:
        if start >= last_end:
            mentions.append(CouncilMention(name, text[start:end], start, end))
            last_end = end
    return tuple(mentions)


def find_councils(text: str) -> tuple[str, ...]:
    """Canonical names of the councils mentioned in ``text``, in order of first mention."""
    return tuple(dict.fromkeys(m.name for m in council_mentions(text)))


def first_council(text: str) -> str | None:
    """The first council ``text`` names, if any."""
    mentions = council_mentions(text)
    return mentions[0].name if mentions else None


def council_of_title(title: str) -> str | None:
    """The council a document title is about ("Inspection of Slough local authority ...")."""
    return first_council(title)


def council_named(name: str, text: str) -> bool:
    """Whether ``text`` names the council ``name`` (by any of its aliases)."""
    return names_any(text, (name,))


def _patterns_by_name() -> dict[str, tuple[re.Pattern[str], ...]]:
    found: dict[str, list[re.Pattern[str]]] = {}
    for name, _, pattern in _PATTERNS:
        found.setdefault(name, []).append(pattern)
    return {name: tuple(patterns) for name, patterns in found.items()}


_BY_NAME = _patterns_by_name()


def names_any(text: str, names: tuple[str, ...]) -> bool:
    """Whether ``text`` names one of these councils. Their own patterns are tried first: a
    text none of them matches names none of them (most texts holding "reading" the word, for
    Reading: the steer stage of Reading's 2019 question 94-130 -> 5 ms, where every pattern
    was tried on each); one that some match is read whole, so that overlapping names keep
    the longest as in ``find_councils``."""
    if not any(p.search(text) for name in names for p in _BY_NAME.get(name, ())):
        return False
    return bool(set(find_councils(text)) & set(names))


def council_words() -> frozenset[str]:
    """Every word of every council's names and aliases ("North", "Tyneside", "Hull", ...):
    capitalised words that are places, not people."""
    names = [n for n, aliases in (*COUNCILS, *FORMER_COUNCILS) for n in (n, *aliases)]
    return frozenset(w for name in names for w in re.split(r"[\s,\-&]+", name) if w)
