"""Measure the web chat as a user sees it.

Starts ``rag-qa serve`` (or uses a running one with --url), then reports
- the time from starting the server to the first answer (model load, index load, warm-up,
  Gradio start, one question through the queue), and
- the time per question over ~20 questions through the chat endpoint (``/ask``, the one the
  page calls: queue, search, answer, the page's HTML) via gradio_client: median, p95, max;
- the same with --parallel users asking at once (default 4, the server's default concurrency).

    .venv/bin/python bench/bench_chat.py                 # starts its own server on port 7870
    .venv/bin/python bench/bench_chat.py --url http://127.0.0.1:7861/

Results are printed and written to bench/results/chat.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
FALLBACK = [
    "What did Ofsted say about management oversight in 2018?",
    "How high were caseloads in the 2023 inspection?",
    "What did the November 2025 visit find about care leavers?",
    "What did the latest focused visit say about the front door?",
]


def questions(n: int) -> list[str]:
    path = REPO / "eval" / "questions.jsonl"
    found: list[str] = []
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                found.append(json.loads(line)["question"])
    found = found or FALLBACK
    return [found[i % len(found)] for i in range(n)]


def connect(url: str, deadline: float):
    from gradio_client import Client

    while True:
        try:
            return Client(url, verbose=False)
        except Exception:  # noqa: BLE001 - not up yet
            if time.monotonic() > deadline:
                raise
            time.sleep(0.25)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(q * (len(ordered) - 1))))
    return ordered[rank]


def parallel(url: str, qs: list[str], users: int) -> list[float]:
    """Each of ``users`` clients asks its share of ``qs`` in turn, all at the same time."""
    from concurrent.futures import ThreadPoolExecutor

    from gradio_client import Client

    def user(mine: list[str]) -> list[float]:
        client = Client(url, verbose=False)
        out = []
        for q in mine:
            client.reset_session()
            t = time.perf_counter()
            client.predict(question=q, api_name="/ask")
            out.append(time.perf_counter() - t)
        return out

    with ThreadPoolExecutor(users) as pool:
        shares = [qs[i::users] for i in range(users)]
        return [t for times in pool.map(user, shares) for t in times]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a running server; default: start one")
    parser.add_argument("--port", type=int, default=7870)
    parser.add_argument("-n", type=int, default=20, help="questions to time")
    parser.add_argument("--parallel", type=int, default=4, help="users at once (0: skip)")
    parser.add_argument("--timeout", type=float, default=600)
    args = parser.parse_args()

    server = None
    url = args.url
    started = time.monotonic()
    if url is None:
        url = f"http://127.0.0.1:{args.port}/"
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
        server = subprocess.Popen(
            [str(REPO / ".venv" / "bin" / "rag-qa"), "serve", "--port", str(args.port)],
            cwd=REPO,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
    try:
        client = connect(url, started + args.timeout)
        first_q = FALLBACK[0]
        client.predict(question=first_q, api_name="/ask")
        first_answer = time.monotonic() - started

        times, abstained = [], 0
        for q in questions(args.n):
            client.reset_session()  # each question fresh, not a follow-up
            t = time.perf_counter()
            messages, *_ = client.predict(question=q, api_name="/ask")
            times.append(time.perf_counter() - t)
            answer = messages[-1]["content"][0]["text"]
            if len(messages) != 2 or not answer:
                raise SystemExit(f"unexpected reply to {q!r}: {messages!r}")
            abstained += "hold nothing" in answer
        loaded = parallel(url, questions(args.n * 2), args.parallel) if args.parallel else []
    finally:
        if server is not None:
            server.terminate()
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()

    report = {
        "url": url,
        "started_server": server is not None,
        "start_to_first_answer_s": round(first_answer, 2) if server is not None else None,
        "first_answer_s": round(first_answer, 2),
        "questions": len(times),
        "abstained": abstained,
        "median_s": round(statistics.median(times), 3),
        "p95_s": round(percentile(times, 0.95), 3),
        "max_s": round(max(times), 3),
        "mean_s": round(statistics.fmean(times), 3),
        "parallel_users": args.parallel,
        "parallel_median_s": round(statistics.median(loaded), 3) if loaded else None,
        "parallel_p95_s": round(percentile(loaded, 0.95), 3) if loaded else None,
        "cpus": os.cpu_count(),
        "load_avg": [round(x, 2) for x in os.getloadavg()],
    }
    if server is not None:
        print(f"start to first answer: {first_answer:.1f}s (rag-qa serve started here)")
    else:
        print(f"first answer (server already running): {first_answer:.2f}s")
    print(
        f"per question over {len(times)} ({abstained} abstained; chat endpoint, gradio_client): "
        f"median {report['median_s']:.3f}s, p95 {report['p95_s']:.3f}s, max {report['max_s']:.3f}s"
        f"  [load average {report['load_avg'][0]} on {report['cpus']} cores]"
    )
    if loaded:
        print(
            f"with {args.parallel} users asking at once, per question over {len(loaded)}: "
            f"median {report['parallel_median_s']:.3f}s, p95 {report['parallel_p95_s']:.3f}s"
        )
    out = REPO / "bench" / "results" / "chat.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
