"""End to end in a real browser: headless Debian Chromium driven by Playwright, the app over
the small test corpus with the fake embedder. Skipped when Chromium or Playwright is missing
(install: ``apt-get install -y chromium`` and ``pip install playwright``; never
``playwright install``)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import (
    PDF_SOURCE,
    build_shipped,
    free_port,
    launched_app,
)

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).parent / "artifacts"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="no /usr/bin/chromium"),
]


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    root = tmp_path_factory.mktemp("browser")
    feedback = root / "feedback.jsonl"
    with launched_app(root, feedback_file=feedback, allow_upload=True) as (_, url, settings):
        yield url, feedback, settings.corpus_dir


def chromium(p):
    return p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)


def test_ask_read_cited_passage_and_vote(served):
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright not installed")
    url, feedback, _ = served
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_api.sync_playwright() as p:
        browser = chromium(p)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(30_000)
            requested: list[str] = []
            page.on("request", lambda request: requested.append(request.url))
            blocked: list[str] = []  # what the Content-Security-Policy refused
            page.on(
                "console",
                lambda m: blocked.append(m.text) if "Content Security Policy" in m.text else None,
            )
            response = page.goto(url)
            headers = response.headers
            assert "frame-ancestors 'none'" in headers["content-security-policy"]
            assert headers["x-content-type-options"] == "nosniff"
            page.locator("#rq-question textarea").fill(
                "What did inspectors say about management oversight?"
            )
            page.locator("#rq-ask").click()

            chat = page.locator("#rq-chat")
            sync_api.expect(chat).to_contain_text("Management oversight of frontline practice")
            sync_api.expect(chat).to_contain_text("[1]")
            sync_api.expect(chat).to_contain_text("Testshire County Council")
            cards = page.locator("#rq-passages")
            sync_api.expect(cards).to_contain_text(PDF_SOURCE)
            sync_api.expect(cards.locator("mark").first).to_be_visible()

            page.locator("#rq-pick label").filter(has_text="[1]").click()
            context = page.locator("#rq-context")
            sync_api.expect(context).to_contain_text("Page 1")
            sync_api.expect(context.locator(".rq-passage mark").first).to_contain_text(
                "Management oversight"
            )
            if shutil.which("pdftoppm"):
                sync_api.expect(page.locator("#rq-page-image img")).to_be_visible()

            page.screenshot(path=str(ARTIFACTS / "browser_chat.png"), full_page=True)

            page.locator("#rq-chat").get_by_label("Like", exact=True).first.click()
            sync_api.expect(page.get_by_text("feedback was saved")).to_be_visible()
        finally:
            browser.close()
    outside = [u for u in requested if not u.startswith((url, "data:", "blob:"))]
    assert not outside, f"the page fetched from elsewhere: {outside[:5]}"
    assert not blocked, f"the page needs what its CSP refuses: {blocked[:3]}"
    record = json.loads(feedback.read_text().splitlines()[-1])
    assert record["vote"] == "up" and PDF_SOURCE in record["sources"]


def test_upload_adds_a_report_and_refuses_a_fake(served, tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright not installed")
    url, _, corpus = served
    good = tmp_path / "adoption letter.txt"
    good.write_text("Inspectors found that adoption support was strong and timely.\n")
    fake = tmp_path / "fake.pdf"
    fake.write_text("not a PDF at all")
    with sync_api.sync_playwright() as p:
        browser = chromium(p)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(30_000)
            page.goto(url)
            page.get_by_role("tab", name="Index").click()
            sync_api.expect(page.locator("#rq-index")).to_contain_text("letter.txt")
            page.locator("#rq-upload input[type=file]").set_input_files([str(good), str(fake)])
            sync_api.expect(page.locator("#rq-upload")).to_contain_text("fake")
            page.get_by_role("button", name="Add to the corpus and update the index").click()
            sync_api.expect(page.get_by_text("Index updated")).to_be_visible()
            sync_api.expect(page.get_by_text("Not added: fake.pdf")).to_be_visible()
            sync_api.expect(page.locator("#rq-index")).to_contain_text("adoption letter.txt")

            page.get_by_role("tab", name="Ask").click()
            page.locator("#rq-question textarea").fill("Was adoption support timely?")
            page.locator("#rq-ask").click()
            sync_api.expect(page.locator("#rq-passages")).to_contain_text("adoption letter.txt")
        finally:
            browser.close()
    assert (corpus / "adoption letter.txt").exists() and not (corpus / "fake.pdf").exists()


# ---------------------------------------------------------------------------------------------
# Facts tables, timelines, export and the Index tab's table: the shipped corpus (Ofsted's
# reports on one council, with their judgements) with the fake embedder, like the tests above.

SHOTS = ARTIFACTS  # docs/screenshots/ come from tools/screenshots.py, with the real model
FACTS_Q = "What was Slough's overall effectiveness judgement in 2019?"
CHANGE_Q = "How has management oversight changed?"


@pytest.fixture(scope="module")
def shipped(tmp_path_factory):
    from rag_qa.web import app as A

    settings, embedder = build_shipped(tmp_path_factory.mktemp("shipped"))
    app = A.create_app(settings, embedder)
    _, url, _ = A.launch(app, port=free_port(), prevent_thread_lock=True)
    try:
        yield url
    finally:
        app.demo.close()


@pytest.fixture
def page(shipped):
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright not installed")
    with sync_api.sync_playwright() as p:
        browser = chromium(p)
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 1000})
            context.grant_permissions(["clipboard-read", "clipboard-write"])
            tab = context.new_page()
            tab.set_default_timeout(30_000)
            tab.goto(shipped)
            yield tab
        finally:
            browser.close()


def _ask(page, question: str) -> None:
    page.locator("#rq-question textarea").fill(question)
    page.locator("#rq-ask").click()


def test_facts_question_shows_the_table_and_a_row_opens_the_report(page):
    from playwright.sync_api import expect

    _ask(page, FACTS_Q)
    facts = page.locator("#rq-facts")
    expect(facts.locator("table.rq-facts")).to_be_visible()
    rows = facts.locator("tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("requires improvement")
    expect(rows.first).to_contain_text("21 January 2019 – 1 February 2019")
    expect(rows.first).to_contain_text("Donna Marriott")
    expect(page.locator("#rq-chat")).to_contain_text("requires improvement")
    rows.first.click()
    context = page.locator("#rq-context")
    expect(context).to_contain_text("Page 1")
    expect(context).to_contain_text("Inspection dates: 21 January 2019 to 1 February 2019")
    expect(context.locator("mark").first).to_contain_text("Requires improvement")
    if shutil.which("pdftoppm"):
        expect(page.locator("#rq-page-image img")).to_be_visible()
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "facts-table.png"), full_page=True)


def test_timeline_switch_shows_entries_in_date_order_and_the_plot(page):
    from playwright.sync_api import expect

    page.locator("#rq-timeline-switch input[type=checkbox]").check()
    _ask(page, CHANGE_Q)
    panel = page.locator("#rq-timeline")
    entries = panel.locator("li.rq-tl-entry")
    expect(entries.first).to_be_visible()
    dates = [entries.nth(i).get_attribute("data-when") for i in range(entries.count())]
    assert len(dates) >= 4 and dates == sorted(dates)
    expect(panel.locator("svg.rq-plot")).to_be_visible()
    expect(panel.locator("svg.rq-plot circle")).to_have_count(4)  # the graded inspections
    expect(panel.locator("svg.rq-plot")).to_contain_text("inadequate")
    expect(entries.first).to_contain_text("19 November 2013")
    expect(entries.first.locator(".rq-grade")).to_have_text("inadequate")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "timeline.png"), full_page=True)
    entries.nth(2).click()
    expect(page.locator("#rq-context .rq-passage").first).to_be_visible()
    expect(page.locator("#rq-context")).to_contain_text("4 March 2019")


def test_export_markdown_and_csv(page, tmp_path):
    from playwright.sync_api import expect

    _ask(page, "What did inspectors say about management oversight?")
    md = page.locator("#rq-export-md")
    expect(md).to_contain_text("[1]")
    expect(md).to_contain_text("## What did inspectors say about management oversight?")
    md.get_by_label("Copy").first.click()
    copied = page.evaluate("navigator.clipboard.readText()")
    assert "### Passages" in copied and "**[1] " in copied and "\n> " in copied
    button = page.locator("#rq-export-csv")
    expect(button).to_be_visible()
    with page.expect_download() as info:
        button.click()
    saved = tmp_path / "answer.csv"
    info.value.save_as(saved)
    lines = saved.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "kind,rank,council,report,source,date,page,grade,text"
    assert lines[1].startswith("answer,") and any(x.startswith("passage,1,") for x in lines)


def test_index_table_filters_by_judgement_sorts_and_opens(page):
    from playwright.sync_api import expect

    page.get_by_role("tab", name="Index").click()
    table = page.locator("#rq-index")
    expect(table.locator("tbody tr")).to_have_count(13)
    judgement = page.locator("#rq-ix-judgement")
    judgement.locator("input").click()
    page.get_by_role("option", name="inadequate", exact=True).click()
    expect(table.locator("tbody tr")).to_have_count(2)
    expect(table).to_contain_text("showing 2")
    for i in range(2):
        expect(table.locator("tbody tr").nth(i).locator("td").nth(6)).to_have_text("inadequate")
    table.locator("th[data-sort=inspected]").click()  # sorted by it already: now newest first
    expect(table.locator("th[data-sort=inspected]")).to_contain_text("▼")
    expect(table.locator("tbody tr").first).to_contain_text("24 November 2015")
    table.locator("tbody tr").first.click()
    expect(page.locator("#rq-index-context")).to_contain_text("Page 1")
    expect(page.locator("#rq-index-context")).to_contain_text("Stephanie Murray")
    button = page.locator("#rq-index-csv")
    with page.expect_download() as info:
        button.click()
    text = Path(info.value.path()).read_text(encoding="utf-8").splitlines()
    assert text[0].startswith("source,title,council,kind") and len(text) == 3
