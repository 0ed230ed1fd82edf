import pytest

from rag_qa.ingest.dates import (
    find_filename_date,
    find_letter_date,
    find_published_date,
    find_visit_dates,
)


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        ("Inspection dates: 21 January 2019 to 1 February 2019", "2019-01-21", "2019-02-01"),
        (
            "The fifth Ofsted monitoring visit, took place between 10-11 January 2018 and",
            "2018-01-10",
            "2018-01-11",
        ),
        (
            "findings of the focused visit to Slough Borough Council children’s services on\n19 and 20 November 2025.",
            "2025-11-19",
            "2025-11-20",
        ),
        ("Inspection date: 19 November – 11 December 2013", "2013-11-19", "2013-12-11"),
        ("Inspection date: 24 November 2015 - 17 December 2015", "2015-11-24", "2015-12-17"),
        ("Inspection dates: 23 January to 3 February 2023", "2023-01-23", "2023-02-03"),
        (
            "the focused visit to Slough children's services on 30 April and 1 May 2024.",
            "2024-04-30",
            "2024-05-01",
        ),
        (
            "a focused visit to Slough children’s services on 13 October 2020. The visit",
            "2020-10-13",
            "2020-10-13",
        ),
        (
            "The 3rd Monitoring Visit took place in mid-June 2017, and had",
            "2017-06-11",
            "2017-06-20",
        ),
        ("Inspection dates: 28 November to 2 December 2022", "2022-11-28", "2022-12-02"),
    ],
)
def test_visit_dates(text, start, end):
    found = find_visit_dates([(1, text)])
    assert [(m.role, m.date) for m in found] == [("visit_start", start), ("visit_end", end)]
    assert all(m.evidence and m.rule for m in found)


def test_no_visit_dates_in_unrelated_text():
    assert find_visit_dates([(1, "Caseloads are too high in 2019 for some workers.")]) == []


@pytest.mark.parametrize(
    ("text", "iso", "rule"),
    [
        (
            "The report, published today (30/3/17) on the Ofsted website",
            "2017-03-30",
            "published-today",
        ),
        ("Report published: 17 February 2016", "2016-02-17", "report-published"),
        ("were originally published on 11 February 2014", "2014-02-11", "originally-published"),
    ],
)
def test_published_dates(text, iso, rule):
    found = find_published_date([(None, text)])
    assert (found.date, found.rule) == (iso, rule)


def test_letter_date_line_and_file_name():
    letter = find_letter_date("\n\n12 January 2026\n\nSue Butcher\n", 1)
    assert (letter.date, letter.rule) == ("2026-01-12", "letter-date-line")
    assert find_letter_date("Text that mentions 12 January 2026 in a sentence.", 1) is None
    name = find_filename_date("children's services focused visit - 12 july 2024.pdf")
    assert (name.date, name.rule) == ("2024-07-12", "file-name")
    assert find_filename_date("notes 2024-02-29.txt").date == "2024-02-29"
    assert find_filename_date("000_5500633fd7aad27d.txt") is None


def test_impossible_dates_are_ignored():
    assert find_visit_dates([(1, "Inspection dates: 31 February 2019")]) == []
