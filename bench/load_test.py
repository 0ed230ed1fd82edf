"""Load test of the web chat: many users asking at once through gradio_client.

Starts ``rag-qa serve`` on a free loopback port (or uses --url, which must be loopback), then
--users threads, each its own gradio_client session, connect, wait for one another, and ask
--questions questions each (from eval/questions.jsonl; each a fresh conversation, not a
follow-up) through the page's endpoint (``/ask``; ``--endpoint answer`` for the JSON API). A
"busy" response (the queue is full: gradio's max_size) is counted apart from errors and the
question is retried after --busy-wait seconds, up to --busy-retries times. Everything is
bounded: users, questions, each request (--request-timeout) and the whole run (--timeout).

Reports answers, errors, busy responses, latency p50/p95/p99 (the successful attempt, queue
wait included, and end to end with busy retries), throughput, and the server's resident memory
(VmRSS from /proc/<pid>/status) at the start, middle and end of the run and its peak, to show
memory stays flat. Prints one table and writes bench/results/load.json.

Soak mode (--minutes M or --rounds N, N > 1): the round of --users x --questions is repeated
(each round new clients, so new gradio sessions, as new visitors would be) until M minutes or
N rounds have passed. The server's RSS is sampled every --sample-every seconds; the report gives
RSS at the start (after the warm-up answer), after warm-up (the end of the first round, or
--warm-up-questions answered) and at the end, the peak, and the least-squares slope of RSS
against questions served, in MB per 1,000 questions, over the second half of the run (and over
everything after warm-up). Results go to bench/results/soak.json. "Flat" means that slope is
about zero: no sustained growth once warm.

    .venv/bin/python bench/load_test.py                       # 50 users x 10 questions
    .venv/bin/python bench/load_test.py --url http://127.0.0.1:7860/ --users 20
    .venv/bin/python bench/load_test.py --minutes 17          # soak: rounds for 17 minutes
    .venv/bin/python bench/load_test.py --minutes 17 --server-env MALLOC_ARENA_MAX=2
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

REPO = Path(__file__).resolve().parent.parent
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
MAX_USERS, MAX_QUESTIONS = 500, 100
MAX_ROUNDS, MAX_MINUTES = 1000, 180


def load_questions() -> list[str]:
    path = REPO / "eval" / "questions.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    found = [json.loads(line)["question"] for line in lines if line.strip()]
    return found or ["What did Ofsted say about management oversight in 2018?"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_kb(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def listener_pid(port: int) -> int | None:
    """The process listening on ``port`` (one of this user's: /proc shows only those fds)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            parts = row.split()
            if int(parts[1].rsplit(":", 1)[1], 16) == port and parts[3] == "0A":
                inodes.add(parts[9])
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            for fd in (proc / "fd").iterdir():
                link = os.readlink(fd)
                if link.startswith("socket:[") and link[8:-1] in inodes:
                    return int(proc.name)
        except OSError:
            continue
    return None


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(q * (len(ordered) - 1))))]


@dataclass
class Tally:
    lock: threading.Lock = field(default_factory=threading.Lock)
    latencies: list[float] = field(default_factory=list)  # the successful attempt
    end_to_end: list[float] = field(default_factory=list)  # with busy retries
    answered: int = 0
    abstained: int = 0
    errors: int = 0
    busy: int = 0  # busy responses (each attempt)
    gave_up_busy: int = 0  # questions still busy after every retry
    not_asked: int = 0  # the run's deadline came first
    error_kinds: dict[str, int] = field(default_factory=dict)

    def error(self, kind: str) -> None:
        with self.lock:
            self.errors += 1
            self.error_kinds[kind] = self.error_kinds.get(kind, 0) + 1

    @property
    def done(self) -> int:
        return self.answered + self.errors + self.gave_up_busy


class RssSampler(threading.Thread):
    def __init__(self, pid: int, tally: Tally, every: float = 0.5):
        super().__init__(daemon=True)
        self.pid, self.tally, self.every = pid, tally, every
        self.samples: list[tuple[float, int, int]] = []  # (time, questions done, kB)
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            kb = rss_kb(self.pid)
            if kb is not None:
                self.samples.append((time.monotonic(), self.tally.done, kb))
            self.stop.wait(self.every)


def check_reply(endpoint: str, reply) -> bool:
    """True when the reply is a whole answer; returns whether it abstained."""
    if endpoint == "answer":
        if not (isinstance(reply, dict) and reply.get("answer") and "passages" in reply):
            raise ValueError(f"malformed reply: {str(reply)[:200]}")
        return bool(reply.get("abstained"))
    messages = reply[0]
    if not (isinstance(messages, list) and len(messages) == 2):
        raise ValueError(f"malformed reply: {str(reply)[:200]}")
    text = messages[1]["content"][0]["text"]
    if not text:
        raise ValueError("empty answer")
    return "hold nothing" in text


def user(
    number: int,
    url: str,
    mine: list[str],
    args,
    tally: Tally,
    start: threading.Barrier,
    deadline: float,
):
    from gradio_client import Client
    from gradio_client.exceptions import AppError
    from gradio_client.utils import QueueError

    try:
        client = Client(url, verbose=False)
    except Exception as err:  # noqa: BLE001 - counted, not raised
        tally.error(f"connect: {type(err).__name__}")
        with tally.lock:
            tally.not_asked += len(mine) - 1  # one error counted for the first question
        start.abort()
        return
    with contextlib.suppress(threading.BrokenBarrierError):  # a user failed to connect
        start.wait(timeout=120)
    for question in mine:
        if time.monotonic() > deadline:
            with tally.lock:
                tally.not_asked += 1
            continue
        client.reset_session()  # a fresh conversation: no follow-up rewriting
        first = time.perf_counter()
        for attempt in range(args.busy_retries + 1):
            t = time.perf_counter()
            try:
                if args.endpoint == "answer":
                    job = client.submit(question, None, None, [], [], 5, api_name="/answer")
                else:
                    job = client.submit(question=question, api_name="/ask")
                reply = job.result(timeout=args.request_timeout)
                abstained = check_reply(args.endpoint, reply)
            except QueueError:
                with tally.lock:
                    tally.busy += 1
                    if attempt == args.busy_retries:
                        tally.gave_up_busy += 1
                time.sleep(args.busy_wait)
                continue
            except TimeoutError:
                tally.error("timeout")
            except AppError as err:
                tally.error(f"AppError: {str(err)[:120]}")
            except Exception as err:  # noqa: BLE001 - every failure is counted
                tally.error(f"{type(err).__name__}: {str(err)[:120]}")
            else:
                now = time.perf_counter()
                with tally.lock:
                    tally.answered += 1
                    tally.abstained += abstained
                    tally.latencies.append(now - t)
                    tally.end_to_end.append(now - first)
            break
    client.close()


def start_server(args, port: int, log: Path, extra_env: dict | None = None) -> subprocess.Popen:
    cmd = [str(REPO / ".venv" / "bin" / "rag-qa"), "serve", "--port", str(port)]
    cmd += ["--concurrency", str(args.concurrency), "--feedback", os.devnull]
    if args.index:
        cmd += ["--index", str(args.index)]
    if args.corpus:
        cmd += ["--corpus", str(args.corpus)]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    env.update(extra_env or {})
    return subprocess.Popen(
        cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=log.open("w"), text=True
    )


def connect(url: str, deadline: float, server: subprocess.Popen | None):
    from gradio_client import Client

    while True:
        if server is not None and server.poll() is not None:
            raise SystemExit(f"rag-qa serve exited with {server.returncode}")
        try:
            return Client(url, verbose=False)
        except Exception:  # noqa: BLE001 - not up yet
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def mb(kb: int | None) -> float | None:
    return round(kb / 1024, 1) if kb is not None else None


def fmt(x: float | None, spec: str = ".3f") -> str:
    return "-" if x is None else format(x, spec)


def slope_mb_per_1000(samples: list[tuple[float, int, int]]) -> float | None:
    """Least-squares slope of RSS (MB) against questions served, per 1,000 questions."""
    xs = [float(n) for _, n, _ in samples]
    ys = [kb / 1024 for _, _, kb in samples]
    if len(xs) < 3 or max(xs) - min(xs) < 1:
        return None
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    return round(1000 * sxy / sxx, 2)


def rss_at(samples: list[tuple[float, int, int]], done: int) -> int | None:
    """The first RSS sample taken once ``done`` questions were served (the last otherwise)."""
    for _, n, kb in samples:
        if n >= done:
            return kb
    return samples[-1][2] if samples else None


def by_round(samples, warm_done: int, per_round: int) -> list[dict]:
    """RSS (MB) min / median / max over each ``per_round`` questions served after warm-up."""
    groups: dict[int, list[tuple[int, int]]] = {}
    for _, n, kb in samples:
        if n >= warm_done:
            groups.setdefault((n - warm_done) // max(1, per_round), []).append((n, kb))
    return [
        {
            "questions_from": warm_done + k * per_round,
            "samples": len(g),
            "min": mb(min(kb for _, kb in g)),
            "median": mb(int(statistics.median(kb for _, kb in g))),
            "max": mb(max(kb for _, kb in g)),
        }
        for k, g in sorted(groups.items())
    ]


def soak_summary(
    samples, load_started: float, load_seconds: float, warm_done: int, per_round: int
) -> dict:
    """RSS after warm-up; the slopes over the second half and after warm-up; per round after
    warm-up the RSS range, and the slope of its floor (each round's lowest sample: the server
    hands freed heap back every 30 s, so RSS swings between trims, and growth that trimming
    does not give back shows in the floor)."""
    half = load_started + load_seconds / 2
    second_half = [s for s in samples if s[0] >= half]
    after_warm = [s for s in samples if s[1] >= warm_done]
    rounds = [r for r in by_round(samples, warm_done, per_round) if r["samples"] >= 3]
    floors = [(0.0, r["questions_from"] + per_round // 2, int(r["min"] * 1024)) for r in rounds]
    return {
        "warm_up_questions": warm_done,
        "rss_after_warm_up_mb": mb(rss_at(samples, warm_done)),
        "slope_mb_per_1000_questions_second_half": slope_mb_per_1000(second_half),
        "slope_mb_per_1000_questions_after_warm_up": slope_mb_per_1000(after_warm),
        "questions_in_second_half": (
            second_half[-1][1] - second_half[0][1] if len(second_half) > 1 else 0
        ),
        "rss_second_half_mb": {
            "min": mb(min((s[2] for s in second_half), default=None)),
            "max": mb(max((s[2] for s in second_half), default=None)),
        },
        "floor_slope_mb_per_1000_questions_after_warm_up": slope_mb_per_1000(floors),
        "rss_by_round_after_warm_up_mb": rounds,
    }


def soak_rows(report: dict) -> list[tuple[str, str]]:
    rss, sk = report["rss_mb"], report["soak"]
    return [
        ("RSS start/warm/end MB", f"{rss['start']} / {sk['rss_after_warm_up_mb']} "
         f"(after {sk['warm_up_questions']} questions) / {rss['end']}"),
        ("RSS slope, 2nd half", f"{fmt(sk['slope_mb_per_1000_questions_second_half'], '+.2f')}"
         f" MB per 1,000 questions (range {sk['rss_second_half_mb']['min']}-"
         f"{sk['rss_second_half_mb']['max']} MB over {sk['questions_in_second_half']} questions)"),
        ("RSS slope, after warm", f"{fmt(sk['slope_mb_per_1000_questions_after_warm_up'], '+.2f')}"
         " MB per 1,000 questions"),
        ("RSS floor slope", f"{fmt(sk['floor_slope_mb_per_1000_questions_after_warm_up'], '+.2f')}"
         " MB per 1,000 questions (each round's lowest sample, after warm-up)"),
        ("RSS median by round", " ".join(
            f"{r['median']:.0f}" for r in sk["rss_by_round_after_warm_up_mb"]) + " MB"),
    ]  # fmt: skip


def resummarize(path: Path, warm_up_questions: int | None = None) -> int:
    """Recompute the soak summary of a results file (from its RSS samples) and print it."""
    report = json.loads(path.read_text())
    samples = [(t, n, kb) for t, n, kb in report["rss_samples"]]
    per_round = report["users"] * report["questions_per_user"]
    warm = warm_up_questions or (report.get("soak") or {}).get("warm_up_questions") or per_round
    report["soak"] = soak_summary(samples, 0.0, report["load_seconds"], warm, per_round)
    path.write_text(json.dumps(report, indent=1))
    rows = [("results", str(path)), *soak_rows(report)]
    width = max(len(k) for k, _ in rows)
    print("\n".join(f"{k:<{width}}  {v}" for k, v in rows))
    return 0


def run_round(url: str, args, tally: Tally, pool: list[str], round_no: int, deadline: float):
    """One round: --users clients at once, --questions each (the pool rotated per round)."""
    offset = round_no * args.users * args.questions
    shares = [
        [pool[(offset + u * args.questions + i) % len(pool)] for i in range(args.questions)]
        for u in range(args.users)
    ]
    barrier = threading.Barrier(args.users)
    with ThreadPoolExecutor(args.users) as users:
        for u, mine in enumerate(shares):
            users.submit(user, u, url, mine, args, tally, barrier, deadline)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a running loopback server; default: start one")
    parser.add_argument("--server-pid", type=int, help="its pid, for memory (default: found)")
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--questions", type=int, default=10, help="per user")
    parser.add_argument("--endpoint", choices=["ask", "answer"], default="ask")
    parser.add_argument("--concurrency", type=int, default=4, help="of the server started here")
    parser.add_argument("--index", type=Path, help="of the server started here")
    parser.add_argument("--corpus", type=Path, help="of the server started here")
    parser.add_argument(
        "--server-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="environment of the server started here (e.g. MALLOC_ARENA_MAX=2); repeatable",
    )
    parser.add_argument("--busy-retries", type=int, default=3)
    parser.add_argument("--busy-wait", type=float, default=1.0)
    parser.add_argument("--request-timeout", type=float, default=120)
    parser.add_argument("--rounds", type=int, default=1, help="soak: repeat the round N times")
    parser.add_argument(
        "--minutes", type=float, help="soak: repeat the round until M minutes have passed"
    )
    parser.add_argument(
        "--warm-up-questions",
        type=int,
        help="soak: questions served before memory counts as warm (default: one round)",
    )
    parser.add_argument(
        "--sample-every",
        type=float,
        help="seconds between RSS samples (default 0.5; 5 in soak mode)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        help="the whole run, seconds (default 900; soak: --minutes plus 10 minutes)",
    )
    parser.add_argument("--out", type=Path, help="default bench/results/load.json (soak.json)")
    parser.add_argument(
        "--resummarize",
        type=Path,
        metavar="RESULTS_JSON",
        help="recompute and print the soak summary of an earlier run's results; no load",
    )
    args = parser.parse_args()
    if args.resummarize:
        return resummarize(args.resummarize, args.warm_up_questions)
    if not (1 <= args.users <= MAX_USERS and 1 <= args.questions <= MAX_QUESTIONS):
        parser.error(f"--users 1..{MAX_USERS}, --questions 1..{MAX_QUESTIONS}")
    if not 1 <= args.rounds <= MAX_ROUNDS:
        parser.error(f"--rounds 1..{MAX_ROUNDS}")
    if args.minutes is not None and not 0 < args.minutes <= MAX_MINUTES:
        parser.error(f"--minutes in (0, {MAX_MINUTES}]")
    server_env = {}
    for item in args.server_env:
        name, sep, value = item.partition("=")
        if not sep or not name:
            parser.error(f"--server-env {item!r}: expected NAME=VALUE")
        server_env[name] = value
    soak = args.minutes is not None or args.rounds > 1
    max_rounds = MAX_ROUNDS if args.minutes is not None else args.rounds
    if args.timeout is None:
        args.timeout = args.minutes * 60 + 600 if args.minutes is not None else 900
    sample_every = args.sample_every or (5.0 if soak else 0.5)
    results = REPO / "bench" / "results"
    out = args.out or results / ("soak.json" if soak else "load.json")

    started = time.monotonic()
    deadline = started + args.timeout
    server, log = None, None
    if args.url:
        if server_env:
            parser.error("--server-env is for the server started here, not with --url")
        url = args.url if args.url.endswith("/") else args.url + "/"
        parsed = urlparse(url)
        if parsed.hostname not in LOOPBACK:
            parser.error("--url must be a loopback address (127.0.0.1, localhost, ::1)")
        pid = args.server_pid or listener_pid(parsed.port or 80)
    else:
        port = free_port()
        url = f"http://127.0.0.1:{port}/"
        log = out.parent / f"{out.stem}-server.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        server = start_server(args, port, log, server_env)
        pid = server.pid
    tally = Tally()
    sampler = None
    rounds_run = 0
    try:
        client = connect(url, min(deadline, time.monotonic() + 300), server)
        startup = time.monotonic() - started
        warm = time.perf_counter()
        client.predict("What did Ofsted say about management oversight in 2018?", None, None,
                       [], [], 5, api_name="/answer")  # fmt: skip
        warm = time.perf_counter() - warm
        client.close()
        rss_start = rss_kb(pid) if pid else None
        if pid:
            sampler = RssSampler(pid, tally, sample_every)
            sampler.start()
        pool = load_questions()
        load_started = time.monotonic()
        soak_until = load_started + args.minutes * 60 if args.minutes is not None else None
        while rounds_run < max_rounds and time.monotonic() < deadline:
            if soak_until is not None and time.monotonic() >= soak_until:
                break
            if server is not None and server.poll() is not None:
                tally.error(f"server exited with {server.returncode}")
                break
            run_round(url, args, tally, pool, rounds_run, deadline)
            rounds_run += 1
            if soak:
                kb = rss_kb(pid) if pid else None
                print(
                    f"round {rounds_run}: {tally.done} questions, {tally.errors} errors, "
                    f"{tally.busy} busy, RSS {mb(kb)} MB, "
                    f"{time.monotonic() - load_started:.0f}s",
                    flush=True,
                )
        load_seconds = time.monotonic() - load_started
        time.sleep(2)  # let the server settle before the last memory reading
        rss_end = rss_kb(pid) if pid else None
        if sampler is not None and rss_end is not None:
            sampler.samples.append((time.monotonic(), tally.done, rss_end))
    finally:
        if sampler is not None:
            sampler.stop.set()
            sampler.join()
        if server is not None:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()

    samples = sampler.samples if sampler else []
    total = args.users * args.questions * rounds_run
    middle = min(samples, key=lambda s: abs(s[1] - total / 2))[2] if samples else None
    peak = max((s[2] for s in samples), default=None)
    server_log = log.read_text(errors="replace") if log else ""
    report = {
        "url": url,
        "endpoint": "/" + args.endpoint,
        "users": args.users,
        "questions_per_user": args.questions,
        "rounds": rounds_run,
        "questions": total,
        "server_concurrency": args.concurrency if server else None,
        "server_env": server_env,
        "server_startup_s": round(startup, 1) if server else None,
        "warm_up_answer_s": round(warm, 3),
        "answered": tally.answered,
        "abstained": tally.abstained,
        "errors": tally.errors,
        "error_kinds": tally.error_kinds,
        "busy_responses": tally.busy,
        "gave_up_busy": tally.gave_up_busy,
        "not_asked": tally.not_asked,
        "latency_s": {
            k: round(v, 3) if v is not None else None
            for k, v in {
                "p50": percentile(tally.latencies, 0.50),
                "p95": percentile(tally.latencies, 0.95),
                "p99": percentile(tally.latencies, 0.99),
                "max": max(tally.latencies, default=None),
                "mean": statistics.fmean(tally.latencies) if tally.latencies else None,
            }.items()
        },
        "end_to_end_s": {
            k: round(v, 3) if v is not None else None
            for k, v in {
                "p50": percentile(tally.end_to_end, 0.50),
                "p95": percentile(tally.end_to_end, 0.95),
                "p99": percentile(tally.end_to_end, 0.99),
            }.items()
        },
        "load_seconds": round(load_seconds, 1),
        "throughput_qps": round(tally.answered / load_seconds, 2) if load_seconds else None,
        "server_pid": pid,
        "rss_mb": {
            "start": mb(rss_start),
            "middle": mb(middle),
            "end": mb(rss_end),
            "peak": mb(peak),
        },
        "rss_samples": [(round(t - load_started, 1), n, kb) for t, n, kb in samples],
        "server_log_tracebacks": server_log.count("Traceback") if log else None,
        "cpus": os.cpu_count(),
        "load_avg": [round(x, 2) for x in os.getloadavg()],
    }
    if soak:
        warm_done = args.warm_up_questions or args.users * args.questions
        report["soak"] = soak_summary(
            samples, load_started, load_seconds, warm_done, args.users * args.questions
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1))

    lat, e2e, rss = report["latency_s"], report["end_to_end_s"], report["rss_mb"]
    rows = [
        ("users x questions", f"{args.users} x {args.questions}"
         + (f" x {rounds_run} rounds" if soak else "")
         + f" = {total} via {report['endpoint']}"
         + (f" (server concurrency {args.concurrency})" if server else "")),
        ("answered", f"{tally.answered} ({tally.abstained} abstained)"),
        ("errors (not busy)", f"{tally.errors}" + (f"  {tally.error_kinds}" if tally.errors else "")),
        ("busy responses", f"{tally.busy} (questions given up busy: {tally.gave_up_busy})"),
        ("not asked (deadline)", str(tally.not_asked)),
        ("latency p50/p95/p99", f"{fmt(lat['p50'])} / {fmt(lat['p95'])} / {fmt(lat['p99'])} s"
         f" (max {fmt(lat['max'])})"),
        ("with busy retries", f"{fmt(e2e['p50'])} / {fmt(e2e['p95'])} / {fmt(e2e['p99'])} s"),
        ("throughput", f"{fmt(report['throughput_qps'], '.2f')} answers/s over {load_seconds:.1f} s"),
        ("server RSS MB", f"start {rss['start']}, middle {rss['middle']}, end {rss['end']}, "
         f"peak {rss['peak']}"),
    ]  # fmt: skip
    if soak:
        rows += soak_rows(report)
    rows += [
        ("server tracebacks", "-" if log is None else str(report["server_log_tracebacks"])),
        ("machine", f"{os.cpu_count()} cores, load average {report['load_avg'][0]}"),
    ]
    width = max(len(k) for k, _ in rows)
    print("\n".join(f"{k:<{width}}  {v}" for k, v in rows))
    print(f"results: {out}")
    return 0 if tally.errors == 0 and tally.not_asked == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
