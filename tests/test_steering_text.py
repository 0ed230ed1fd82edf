"""Two text tests the steering runs over many passages: whether a passage names a council, and
whether it states a judgement. Each is checked against the plain (slower) reading it replaces."""

import re

import pytest

from rag_qa.retrieval.steering import _GRADE, judgement_flags
from rag_qa.text.councils import COUNCIL_NAMES, find_councils, names_any

TEXTS = [
    "Reading Borough Council's children's services were inspected in 2019.",
    "Reading the case files, inspectors found that plans were clear.",
    "Children in reading groups made good progress.",
    "Brighton and Hove City Council and West Berkshire worked together.",
    "North Yorkshire and York shared a safeguarding board.",
    "Staff in New York were not consulted.",
    "Kingston upon Hull, East Riding and North Lincolnshire.",
    "The council in Bath had no part in it.",
    "",
]


@pytest.mark.parametrize("text", TEXTS)
@pytest.mark.parametrize(
    "names",
    [("Reading",), ("York",), ("North Yorkshire",), ("Brighton and Hove", "Slough"), ("Hull",)],
)
def test_names_any_agrees_with_reading_every_council(text, names):
    assert names_any(text, names) == bool(set(find_councils(text)) & set(names))


def test_names_any_tells_the_council_from_the_word():
    assert names_any("Reading Borough Council was inspected.", ("Reading",))
    assert not names_any("Reading the files, inspectors found gaps.", ("Reading",))
    assert not names_any("Nothing here names a council.", tuple(COUNCIL_NAMES))


# The forward searches judgement_flags replaced (one pass over the text per pattern).
_OLD_OVERALL = re.compile(
    r"(?:overall\s+effectiveness|overall\s+judge?ment(?:\s+is)?"
    r"|children['’]s\s+services\s+in\s+[^.]{2,60}?\s+(?:are|is))\s*:?\s*" + _GRADE + r"\b",
    re.I,
)
_OLD_ANY = re.compile(
    r"(?:(?:overall\s+effectiveness|overall\s+judge?ment|judge?ment\s+grade"
    r"|children\s+who\s+need\s+help\s+and\s+protection|achieving\s+permanence"
    r"|care\s+leavers|adoption\s+performance|leadership,\s+management\s+and\s+governance"
    r"|safeguarding\s+children\s+board|social\s+work\s+practice\s+with\s+children"
    r"(?:\s+and\s+families)?)(?:\s+(?:is|are|was|were))?)\s*:?\s*" + _GRADE + r"\b",
    re.I,
)

JUDGED = [
    ("Overall effectiveness: Requires improvement to be good", True, True),
    ("Judgement grade\nThe experiences and progress of care leavers Good", True, False),
    ("Children who need help and protection   Inadequate", True, False),
    ("CARE LEAVERS: OUTSTANDING and more", True, False),
    ("Children's services in Kent are outstanding.", False, True),
    ("Children’s services in North East Lincolnshire are good", False, True),
    ("The overall judgement is inadequate", True, True),
    ("Leadership, management and governance requires improvement", True, False),
    ("Social work practice with children and families was good", True, False),
    ("Care leavers have a good understanding of their rights.", False, False),
    ("A good service for care leavers: good", True, False),
    ("Inspectors found good practice and outstanding leadership.", False, False),
    ("Overall effectiveness goodness", False, False),
    ("", False, False),
]


@pytest.mark.parametrize(("text", "stated", "overall"), JUDGED)
def test_judgement_flags_read_a_grade_beside_what_it_grades(text, stated, overall):
    flat = " ".join(text.split())
    old = (bool(_OLD_ANY.search(flat)), bool(_OLD_OVERALL.search(flat)))
    assert judgement_flags(text) == (stated, overall) == old
