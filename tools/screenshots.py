"""The screenshots in docs/screenshots/, taken with the real model in headless Chromium.

    .venv/bin/python tools/screenshots.py

facts-table.png: "Which councils were judged inadequate in 2023?" over the multi-council sample
index (eval/index/multi-council; build it with ``make eval`` or ``rag-qa index --corpus
../shared/ofsted-sample --index eval/index/multi-council``). timeline.png: "How has management
oversight changed?" over the shipped Slough index, with the Timeline switch on. The browser
tests take the same views with the fake embedder into tests/artifacts/.
"""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
REPO = Path(__file__).resolve().parent.parent
SHOTS = REPO / "docs" / "screenshots"
CHROMIUM = "/usr/bin/chromium"


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _shoot(settings, embedder, question: str, out: Path, timeline: bool) -> None:
    from playwright.sync_api import expect, sync_playwright

    from rag_qa.web import app as A

    app = A.create_app(settings, embedder)
    _, url, _ = A.launch(app, port=_port(), prevent_thread_lock=True)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            page.set_default_timeout(60_000)
            page.goto(url)
            if timeline:
                page.locator("#rq-timeline-switch input[type=checkbox]").check()
            page.locator("#rq-question textarea").fill(question)
            page.locator("#rq-ask").click()
            done = "#rq-timeline li.rq-tl-entry" if timeline else "#rq-facts tbody tr"
            expect(page.locator(done).first).to_be_visible(timeout=120_000)
            if not timeline:
                page.locator(done).first.click()
                expect(page.locator("#rq-context")).to_contain_text("Page", timeout=60_000)
            page.screenshot(path=str(out), full_page=True)
            browser.close()
    finally:
        app.demo.close()
    print(f"wrote {out.relative_to(REPO)}")


def main() -> int:
    from rag_qa.embed.model import load_embedder
    from rag_qa.settings import Settings

    SHOTS.mkdir(parents=True, exist_ok=True)
    shipped = Settings.make(corpus_dir=REPO / "corpus", index_dir=REPO / "index")
    embedder = load_embedder(shipped.embed.model, shipped.embed.precision)
    sample = Settings.make(
        corpus_dir=REPO.parent / "shared" / "ofsted-sample",
        index_dir=REPO / "eval" / "index" / "multi-council",
    )
    _shoot(sample, embedder, "Which councils were judged inadequate in 2023?",
           SHOTS / "facts-table.png", timeline=False)  # fmt: skip
    _shoot(shipped, embedder, "How has management oversight changed?",
           SHOTS / "timeline.png", timeline=True)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
