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
            page.goto(url)
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
