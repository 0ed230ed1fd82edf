"""Ofsted's inspection frameworks: the judgement areas each one grades, the four grades, and
the words people use for them.

Grades are kept in Ofsted's own words in the evidence; the value is one of ``GRADES``
("requires improvement to be good" and SIF's "require improvement" are "requires improvement").

ILACS (inspections of local authority children's services, 2018 on) grades overall
effectiveness and four areas; its first reports (2018-2019) graded children in care and care
leavers together, which is stored under both ``in_care`` and ``care_leavers`` with the fact
``in_care_and_care_leavers_combined``. The single inspection framework (SIF, 2013-2018) graded
overall effectiveness, three areas, two sub-areas, and the Local Safeguarding Children Board
in a review published with it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

GRADES = ("outstanding", "good", "requires improvement", "inadequate")
# For sorting and plotting: the higher, the better.
GRADE_RANK = {"outstanding": 4, "good": 3, "requires improvement": 2, "inadequate": 1}

GRADE_WORDS = r"outstanding|good|requires?\s+improvement(?:\s+to\s+be\s+good)?|inadequate"
GRADE = re.compile(rf"\b({GRADE_WORDS})\b", re.I)


def normal_grade(words: str) -> str | None:
    """Ofsted's words for a grade ("Requires improvement to be good") -> one of GRADES."""
    m = GRADE.search(words or "")
    if not m:
        return None
    g = " ".join(m.group(1).lower().split())
    return "requires improvement" if g.startswith("require") else g


@dataclass(frozen=True)
class Area:
    key: str  # the key in `judgements` ("overall_effectiveness", "in_care", ...)
    label: str  # Ofsted's heading, for people
    asked: str  # a regex of the words a question uses for it


AREAS = {
    "ILACS": (
        Area("overall_effectiveness", "Overall effectiveness", r"overall(?:\s+effectiveness)?"),
        Area(
            "impact_of_leaders",
            "The impact of leaders on social work practice with children and families",
            r"impact\s+of\s+leaders|leaders(?:hip)?\b",
        ),
        Area(
            "help_and_protection",
            "The experiences and progress of children who need help and protection",
            r"help\s+and\s+protection",
        ),
        Area(
            "in_care",
            "The experiences and progress of children in care",
            r"children\s+in\s+care|looked[\s-]+after",
        ),
        Area(
            "care_leavers",
            "The experiences and progress of care leavers",
            r"care[\s-]+leavers?|leaving\s+care|care[\s-]+experienced",
        ),
    ),
    "SIF": (
        Area(
            "overall_effectiveness",
            "Overall effectiveness (children's services in the area are ...)",
            r"overall(?:\s+effectiveness)?",
        ),
        Area(
            "help_and_protection",
            "Children who need help and protection",
            r"help\s+and\s+protection",
        ),
        Area(
            "looked_after",
            "Children looked after and achieving permanence",
            r"looked[\s-]+after|children\s+in\s+care|permanence",
        ),
        Area("adoption", "Adoption performance", r"adoption"),
        Area(
            "care_leavers",
            "Experiences and progress of care leavers",
            r"care[\s-]+leavers?|leaving\s+care|care[\s-]+experienced",
        ),
        Area(
            "leadership",
            "Leadership, management and governance",
            r"leadership|leaders\b|management\s+and\s+governance|impact\s+of\s+leaders",
        ),
        Area(
            "lscb",
            "The effectiveness of the Local Safeguarding Children Board",
            r"\blscb\b|safeguarding\s+children\s+board",
        ),
    ),
}
AREA_KEYS = tuple(dict.fromkeys(a.key for areas in AREAS.values() for a in areas))
AREA_LABELS = {a.key: a.label for areas in reversed(list(AREAS.values())) for a in areas}
# The columns of a facts table, in order: every ILACS key (the ones `docs --json` always has),
# then SIF's own.
ILACS_KEYS = tuple(a.key for a in AREAS["ILACS"])
# The fact an early ILACS report carries when it graded children in care and care leavers in
# one row (the grade is stored under both keys).
COMBINED_FACT = "in_care_and_care_leavers_combined"


def framework_of(kind: str) -> str | None:
    """The framework a report kind belongs to: "ILACS", "SIF", "JTAI", ... or None."""
    if kind.startswith("ILACS") or kind in ("focused visit", "monitoring visit"):
        return "ILACS"
    if kind.startswith("SIF"):
        return "SIF"
    return {
        "joint targeted area inspection": "JTAI",
        "joint area review": "JAR",
        "looked-after children inspection": "safeguarding and looked after children",
        "safeguarding inspection": "safeguarding and looked after children",
    }.get(kind)


def graded(kind: str) -> bool:
    """Whether a report of this kind carries judgements (full inspections do; visits do not)."""
    return kind.startswith("ILACS ") or kind.startswith("SIF")
