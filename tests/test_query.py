import dataclasses
from datetime import date

import pytest

from rag_qa.retrieval.query import DOC_TYPES, OPEN_START, Period, analyse
from rag_qa.text.councils import (
    COUNCIL_NAMES,
    council_mentions,
    council_of_title,
    find_councils,
)

NEWEST = date(2026, 1, 12)  # the newest document in the index
TODAY = date(2026, 3, 1)
D = date.fromisoformat


def intent(question):
    return analyse(question, today=TODAY, newest=NEWEST)


@pytest.mark.parametrize(
    ("question", "start", "end", "label"),
    [
        # years
        (
            "What did Ofsted say about management oversight in 2018?",
            "2018-01-01",
            "2018-12-31",
            "2018",
        ),
        ("and in 2024?", "2024-01-01", "2024-12-31", "2024"),
        (
            "What did the 2023 inspection say about care leavers?",
            "2023-01-01",
            "2023-12-31",
            "2023",
        ),
        ("What was 2018's judgement?", "2018-01-01", "2018-12-31", "2018"),
        ("What did the report (2019) say?", "2019-01-01", "2019-12-31", "2019"),
        ("In 2019 children waited too long?", "2019-01-01", "2019-12-31", "2019"),
        # months
        ("the November 2025 visit", "2025-11-01", "2025-11-30", "November 2025"),
        ("the Nov 2025 letter", "2025-11-01", "2025-11-30", "Nov 2025"),
        ("What happened in January 2019?", "2019-01-01", "2019-01-31", "January 2019"),
        ("the Sept. 2019 visit", "2019-09-01", "2019-09-30", "Sept. 2019"),
        ("the visit in mid-June 2017", "2017-06-01", "2017-06-30", "mid-June 2017"),
        ("in February 2024", "2024-02-01", "2024-02-29", "February 2024"),
        # parts of a year and seasons
        ("What was found in early 2018?", "2018-01-01", "2018-04-30", "early 2018"),
        ("early in 2018", "2018-01-01", "2018-04-30", "early in 2018"),
        ("the mid-2017 monitoring visit", "2017-05-01", "2017-08-31", "mid-2017"),
        ("late 2015", "2015-09-01", "2015-12-31", "late 2015"),
        ("at the end of 2015", "2015-09-01", "2015-12-31", "end of 2015"),
        ("in the first half of 2019", "2019-01-01", "2019-06-30", "first half of 2019"),
        ("in the summer of 2017", "2017-06-01", "2017-08-31", "summer of 2017"),
        ("summer 2017", "2017-06-01", "2017-08-31", "summer 2017"),
        ("spring 2019", "2019-03-01", "2019-05-31", "spring 2019"),
        ("autumn 2020", "2020-09-01", "2020-11-30", "autumn 2020"),
        ("winter 2015", "2015-12-01", "2016-02-29", "winter 2015"),
        # ranges
        ("between 2016 and 2019", "2016-01-01", "2019-12-31", "2016 to 2019"),
        ("from 2016 to 2019", "2016-01-01", "2019-12-31", "2016 to 2019"),
        ("2016-2019", "2016-01-01", "2019-12-31", "2016 to 2019"),
        ("2016 – 2019", "2016-01-01", "2019-12-31", "2016 to 2019"),
        ("in 2016–19", "2016-01-01", "2019-12-31", "2016–19"),
        ("the 2019/20 annual report", "2019-01-01", "2020-12-31", "2019/20"),
        ("from March 2016 to June 2017", "2016-03-01", "2017-06-30", "March 2016 to June 2017"),
        (
            "between the 2016 inspection and the 2019 focused visit",
            "2016-01-01",
            "2019-12-31",
            "2016 to 2019",
        ),
        # separate years: the span covering them
        ("in 2016 and 2019", "2016-01-01", "2019-12-31", "2016 and 2019"),
        ("in 2016, 2017 and 2019", "2016-01-01", "2019-12-31", "2016, 2017 and 2019"),
        ("the 2018 inspection compared with 2024", "2018-01-01", "2024-12-31", "2018 and 2024"),
        # open ranges, to the newest document's date
        ("since 2020", "2020-01-01", "2026-01-12", "since 2020"),
        ("after 2020", "2021-01-01", "2026-01-12", "after 2020"),
        ("before 2015", "1900-01-01", "2014-12-31", "before 2015"),
        ("before 2015, at the earlier inspection", "1900-01-01", "2014-12-31", "before 2015"),
        ("until 2015", "1900-01-01", "2015-12-31", "until 2015"),
        ("up to 2015", "1900-01-01", "2015-12-31", "up to 2015"),
        ("from 2020 onwards", "2020-01-01", "2026-01-12", "from 2020 onwards"),
        ("2020 onwards", "2020-01-01", "2026-01-12", "2020 onwards"),
        ("2015 or earlier", "1900-01-01", "2015-12-31", "2015 or earlier"),
        # relative to the newest document (12 January 2026), not today
        ("last year's focused visit", "2025-01-01", "2025-12-31", "last year (2025)"),
        ("What did Ofsted say last year?", "2025-01-01", "2025-12-31", "last year (2025)"),
        ("this year", "2026-01-01", "2026-12-31", "this year (2026)"),
        ("two years ago", "2024-01-01", "2024-12-31", "two years ago (2024)"),
        ("3 years ago", "2023-01-01", "2023-12-31", "3 years ago (2023)"),
        ("the year before last", "2024-01-01", "2024-12-31", "the year before last (2024)"),
        (
            "in the past two years",
            "2024-01-12",
            "2026-01-12",
            "the past two years (since 12 January 2024)",
        ),
        ("since last year", "2025-01-01", "2026-01-12", "since last year (2025)"),
        # full dates: that day
        ("on 12 July 2024", "2024-07-12", "2024-07-12", "12 July 2024"),
        ("12/07/2024", "2024-07-12", "2024-07-12", "12/07/2024"),
        ("the visit on 2024-07-12", "2024-07-12", "2024-07-12", "2024-07-12"),
        ("July 12, 2024", "2024-07-12", "2024-07-12", "July 12, 2024"),
        ("the 12th of July 2024", "2024-07-12", "2024-07-12", "12th of July 2024"),
    ],
)
def test_period(question, start, end, label):
    period = intent(question).period
    assert period == Period(D(start), D(end), label)


@pytest.mark.parametrize(
    "question",
    [
        "What support is there for 16- and 17-year-olds?",
        "care leavers aged 18 to 25",
        "How did the 4-week inspection go?",
        "caseloads of 2,000 children",
        "over 2000 children were referred",
        "up to 2000 children",
        "call 0118 937 2019",
        "15 cases were audited",
        "young people aged 18+",
        "What does Section 2 of the report say?",
        "as set out in section 2019 of the act",
        "call 01753 875657 for the front door",
        "45% of referrals were repeat referrals",
        "a 2019% rise",
        "£2019 per child",
        "What did the focused visit say about the front door?",
        "What did the latest inspection say?",
        "What did Ofsted say about the front door in November?",
    ],
)
def test_no_period(question):
    assert intent(question).period is None


def test_relative_dates_fall_back_to_today_without_newest():
    found = analyse("last year", today=date(2024, 6, 1))
    assert found.period == Period(D("2023-01-01"), D("2023-12-31"), "last year (2023)")
    since = analyse("since 2020", today=date(2024, 6, 1)).period
    assert since == Period(D("2020-01-01"), D("2024-06-01"), "since 2020")


def test_newest_wins_over_today():
    found = analyse("this year", today=date(2030, 1, 1), newest=NEWEST)
    assert found.period.label == "this year (2026)"


@pytest.mark.parametrize(
    ("question", "doc_types"),
    [
        ("What did the latest inspection say?", ("inspection report",)),
        ("When was Slough inspected?", ("inspection report",)),
        ("What did the ILACS report find?", ("inspection report",)),
        ("the SIF judgement", ("inspection report",)),
        ("How did the 4-week inspection go?", ("inspection report",)),
        ("What did the focused visit say about the front door?", ("focused visit letter",)),
        ("the ILACS focused visit", ("focused visit letter",)),
        ("the third monitoring visit letter", ("monitoring visit letter",)),
        ("the focused visit inspection in 2020", ("focused visit letter",)),
        ("the November 2025 visit", ("focused visit letter", "monitoring visit letter")),
        ("What did Ofsted inspectors say about caseloads?", ()),
        ("the inspectors found drift", ()),
        ("What did the press release say?", ("news release",)),
        (
            "what the trust said about the visit",
            ("news release", "focused visit letter", "monitoring visit letter"),
        ),
        ("the news release", ("news release",)),
        ("the Community Care article", ("news article",)),
        ("a news report on Slough", ("news article",)),
        ("What did the scrutiny panel minutes say?", ("minutes",)),
        ("at the committee meeting", ("minutes",)),
        ("contacts answered within 15 minutes", ()),
        ("the most recent report", ()),
        (
            "the inspection and then the focused visit",
            ("inspection report", "focused visit letter"),
        ),
        (
            "the focused visit and then the inspection",
            ("focused visit letter", "inspection report"),
        ),
    ],
)
def test_doc_types(question, doc_types):
    found = intent(question).doc_types
    assert found == doc_types
    assert set(found) <= set(DOC_TYPES)


@pytest.mark.parametrize(
    ("question", "latest"),
    [
        ("What did the latest inspection say?", True),
        ("the most recent report", True),
        ("the newest letter", True),
        ("What is the current judgement?", True),
        ("What did the last inspection say?", True),
        ("What did the last focused visit find?", True),
        ("When was Slough last inspected?", True),
        ("What did Ofsted say last year?", False),
        ("over the last two years", False),
        ("the current year", False),
        ("What did the 2019 inspection say?", False),
    ],
)
def test_latest(question, latest):
    assert intent(question).latest is latest


@pytest.mark.parametrize(
    ("text", "councils"),
    [
        ("What did Ofsted find in Reading's 2019 inspection?", ("Reading",)),
        ("Reading the report, what did Ofsted say about Slough?", ("Slough",)),
        ("Reading Borough Council's plan", ("Reading",)),
        ("Reading council said it would improve.", ("Reading",)),
        ("How were services in Reading rated?", ("Reading",)),
        ("Is reading age assessed?", ()),
        ("What was Slough’s judgement? And Kent’s?", ("Slough", "Kent")),
        ("slough's front door", ("Slough",)),
        ("North Somerset's inspection", ("North Somerset",)),
        ("Somerset and North Somerset", ("Somerset", "North Somerset")),
        ("West Berkshire", ("West Berkshire",)),
        ("the Royal Borough of Windsor & Maidenhead", ("Windsor and Maidenhead",)),
        ("Telford & Wrekin", ("Telford and Wrekin",)),
        ("Hull and Kingston upon Hull", ("Kingston upon Hull",)),
        ("the ship's hull", ()),
        ("Stoke on Trent", ("Stoke-on-Trent",)),
        ("Kingston-upon-Thames", ("Kingston upon Thames",)),
        ("Richmond on Thames", ("Richmond upon Thames",)),
        ("St. Helens", ("St Helens",)),
        ("Bournemouth, Christchurch and Poole", ("Bournemouth, Christchurch and Poole",)),
        (
            "North Northamptonshire and Northamptonshire",
            ("North Northamptonshire", "Northamptonshire"),
        ),
        ("New York", ()),
        ("Brighton and Hove, Bristol and Wokingham", ("Brighton and Hove", "Bristol", "Wokingham")),
        ("What did the Ofsted inspectors say?", ()),
    ],
)
def test_find_councils(text, councils):
    assert find_councils(text) == councils


def test_council_mentions_keep_the_text_as_written():
    (mention,) = council_mentions("Focused visit to Telford & Wrekin")
    assert (mention.name, mention.text) == ("Telford and Wrekin", "Telford & Wrekin")


def test_gazetteer_has_every_current_council_once():
    assert len(COUNCIL_NAMES) == len(set(COUNCIL_NAMES)) == 153
    for name in (
        "Slough",
        "Westmorland and Furness",
        "Cumberland",
        "City of London",
        "Isles of Scilly",
    ):
        assert name in COUNCIL_NAMES
        assert find_councils(f"What did Ofsted say about {name}?") == (name,)


@pytest.mark.parametrize(
    ("title", "council"),
    [
        ("Inspection of Slough local authority children’s services", "Slough"),
        (
            "Slough Borough Council: Inspection of Slough local authority children's services",
            "Slough",
        ),
        ("Focused visit to Slough Children First", "Slough"),
        (
            "Inspection of Westmorland and Furness local authority children's services",
            "Westmorland and Furness",
        ),
        (
            "Focused visit to Telford & Wrekin local authority children’s services",
            "Telford and Wrekin",
        ),
        (
            "Reading Borough Council: Inspection of Reading local authority children's services",
            "Reading",
        ),
        (
            "Inspection of County of Herefordshire local authority children’s services",
            "Herefordshire",
        ),
        ("Inspection of City of Bristol local authority children’s services", "Bristol"),
        (
            "Inspection of Kingston upon Hull local authority children's services",
            "Kingston upon Hull",
        ),
        ("Community Care: Slough children's services rated 'inadequate'", "Slough"),
        ("Reading Ofsted reports: a guide", None),
    ],
)
def test_council_of_title(title, council):
    assert council_of_title(title) == council


def test_full_intent_with_evidence():
    found = intent("What did Ofsted find in Reading's 2019 inspection?")
    assert found.period == Period(D("2019-01-01"), D("2019-12-31"), "2019")
    assert found.doc_types == ("inspection report",)
    assert found.councils == ("Reading",)
    assert found.latest is False
    assert found.evidence == ("Reading", "2019", "inspection")
    assert found.question == "What did Ofsted find in Reading's 2019 inspection?"


def test_intent_is_frozen():
    found = intent("since 2020")
    with pytest.raises(dataclasses.FrozenInstanceError):
        found.latest = True  # type: ignore[misc]


@pytest.mark.parametrize(
    ("question", "start", "end"),
    [
        ("What happened before the 2015 inspection?", date(2015, 1, 1), date(2015, 12, 31)),
        ("What changed after the 2019 inspection?", date(2019, 1, 1), date(2019, 12, 31)),
        ("What happened before 2015?", OPEN_START, date(2014, 12, 31)),
    ],
)
def test_before_or_after_an_event_means_the_event(question, start, end):
    period = analyse(question, newest=date(2026, 1, 12)).period
    assert (period.start, period.end) == (start, end)


def test_the_any_council_prefilter_matches_wherever_a_council_pattern_does():
    """``council_mentions`` skips the 180 patterns when the combined one finds nothing: it
    must match every text any single pattern matches (here every alias, in every case and a
    few contexts, guarded ones included)."""
    from rag_qa.text import councils as C

    texts = ["What did Ofsted say about caseloads in 2018?", "reading the New York report"]
    for _, alias, _ in C._PATTERNS:
        for form in (alias, alias.lower(), alias.upper(), alias.replace(" and ", " & ")):
            texts += [form, f"Ofsted's visit to {form}, in 2019.", f"({form}'s leavers)"]
    hits = 0
    for text in texts:
        if any(p.search(text) for _, _, p in C._PATTERNS):
            hits += 1
            assert C._ANY.search(text), text
    assert hits > 500
    assert C.council_mentions("What did Ofsted say about caseloads?") == ()
    assert [m.name for m in C.council_mentions("Slough and Telford & Wrekin")] == [
        "Slough",
        "Telford and Wrekin",
    ]
