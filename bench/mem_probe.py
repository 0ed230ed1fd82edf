"""Where the web chat's memory goes under load: the server run in this process, probed between
rounds of bench/load_test.py (run as a child process against it, so its clients' memory is not
counted).

After each round (--users x --questions through ``/ask``, new gradio sessions as new visitors
would make) it prints, for this process: RSS; glibc malloc's view (``mallinfo2``: bytes in use,
bytes free but kept in its arenas, mmapped, and the number of 64 MB per-thread arena heaps in
/proc/self/maps); Python's traced memory (``tracemalloc``, with --tracemalloc) and the source
lines whose allocations grew most since the first round; the number of gradio sessions held
(and the sessions' own state); the files in gradio's upload/cache folder and the rendered-page
folder; the thread count; and what ``malloc_trim(0)`` gives back (with --trim). JSON goes to
bench/results/mem_probe.json.

    .venv/bin/python bench/mem_probe.py --rounds 4 --tracemalloc --trim
    MALLOC_ARENA_MAX=2 .venv/bin/python bench/mem_probe.py --rounds 4
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import json
import os
import subprocess
import sys
import threading
import time
import tracemalloc
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))

from load_test import free_port, mb, rss_kb  # noqa: E402


class Mallinfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena",
            "ordblks",
            "smblks",
            "hblks",
            "hblkhd",
            "usmblks",
            "fsmblks",
            "uordblks",
            "fordblks",
            "keepcost",
        )
    ]


def libc():
    try:
        lib = ctypes.CDLL("libc.so.6")
        lib.mallinfo2.restype = Mallinfo2
        return lib
    except (OSError, AttributeError):
        return None


def malloc_view(lib) -> dict:
    if lib is None:
        return {}
    info = lib.mallinfo2()
    heaps = 0  # per-thread arena heaps: 64 MB-aligned anonymous mappings
    for line in Path("/proc/self/maps").read_text().splitlines():
        parts = line.split()
        start = int(parts[0].split("-")[0], 16)
        if len(parts) == 5 and start % (64 << 20) == 0 and parts[1].startswith("rw"):
            heaps += 1
    return {
        "in_use_mb": round(info.uordblks / 2**20, 1),
        "free_in_arenas_mb": round(info.fordblks / 2**20, 1),
        "mmapped_mb": round(info.hblkhd / 2**20, 1),
        "arena_heaps": heaps,
    }


def folder(path: Path | None) -> dict:
    if path is None or not path.exists():
        return {"files": 0, "mb": 0.0}
    files = [p for p in path.rglob("*") if p.is_file()]
    return {"files": len(files), "mb": round(sum(p.stat().st_size for p in files) / 2**20, 2)}


def sessions_view(demo) -> dict:
    holder = getattr(demo, "state_holder", None)
    if holder is None:
        return {}
    data = list(holder.session_data.values())
    return {
        "sessions": len(data),
        "capacity": holder.capacity,
        "state_values": sum(len(s.state_data) for s in data),
        "updated_components": sum(
            sum(1 for k, b in s.blocks_config.blocks.items() if demo.blocks.get(k) is not b)
            for s in data
        ),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--questions", type=int, default=10)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--tracemalloc", action="store_true", help="trace Python allocations")
    parser.add_argument("--trim", action="store_true", help="malloc_trim(0) after each round")
    parser.add_argument("--top", type=int, default=12)
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "mem_probe.json")
    args = parser.parse_args()
    if not (1 <= args.rounds <= 50 and 1 <= args.users <= 200 and 1 <= args.questions <= 50):
        parser.error("--rounds 1..50, --users 1..200, --questions 1..50")
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TOKENIZERS_PARALLELISM"] = "false"
    if args.tracemalloc:
        tracemalloc.start(1)

    from rag_qa.embed.model import load_embedder
    from rag_qa.settings import Settings
    from rag_qa.web import app as A

    settings = Settings()
    embedder = load_embedder(settings.embed.model, settings.embed.precision)
    app = A.create_app(settings, embedder, feedback_file=None, concurrency=args.concurrency)
    app.service.ask(A.EXAMPLES[0], [], settings.retrieval.top_k, A.Filters())
    port = free_port()
    _, url, _ = A.launch(app, port=port, prevent_thread_lock=True)
    lib = libc()
    cache_dir = Path(app.demo.GRADIO_CACHE) if hasattr(app.demo, "GRADIO_CACHE") else None
    rows, first_snapshot = [], None

    def measure(label: str, questions: int) -> dict:
        gc.collect()
        row = {
            "after": label,
            "questions": questions,
            "rss_mb": mb(rss_kb(os.getpid())),
            "threads": threading.active_count(),
            "os_threads": len(os.listdir("/proc/self/task")),
            "malloc": malloc_view(lib),
            "gradio": sessions_view(app.demo),
            "gradio_cache": folder(cache_dir),
            "page_dir": folder(app.service.page_dir),
            "gc_objects": len(gc.get_objects()),
        }
        if args.tracemalloc:
            row["traced_mb"] = round(tracemalloc.get_traced_memory()[0] / 2**20, 1)
        if args.trim and lib is not None:
            t = time.perf_counter()
            lib.malloc_trim(0)
            row["trim_ms"] = round(1000 * (time.perf_counter() - t), 1)
            row["rss_after_trim_mb"] = mb(rss_kb(os.getpid()))
            row["malloc_after_trim"] = malloc_view(lib)
        return row

    types_before = Counter(type(o).__name__ for o in gc.get_objects())
    rows.append(measure("warm-up answer", 0))
    print(json.dumps(rows[-1]), flush=True)
    done = 0
    for r in range(1, args.rounds + 1):
        cmd = [sys.executable, str(REPO / "bench" / "load_test.py"), "--url", url]
        cmd += ["--server-pid", str(os.getpid()), "--users", str(args.users)]
        cmd += ["--questions", str(args.questions), "--out", f"/tmp/mem_probe_round{r}.json"]
        subprocess.run(cmd, check=False, stdout=subprocess.DEVNULL, timeout=1800)
        load = json.loads(Path(f"/tmp/mem_probe_round{r}.json").read_text())
        done += load["answered"]
        time.sleep(2)
        row = measure(f"round {r}", done)
        row["round_errors"] = load["errors"]
        if args.tracemalloc:
            snap = tracemalloc.take_snapshot().filter_traces(
                [tracemalloc.Filter(False, tracemalloc.__file__)]
            )
            if first_snapshot is None:
                first_snapshot = snap
            else:
                stats = snap.compare_to(first_snapshot, "lineno")[: args.top]
                row["grew_since_round_1"] = [
                    f"{s.size_diff / 2**20:+.2f} MB {s.count_diff:+d} blocks "
                    f"{s.traceback[0].filename.split('site-packages/')[-1]}:{s.traceback[0].lineno}"
                    for s in stats
                ]
        print(json.dumps(row), flush=True)
        rows.append(row)
    types_after = Counter(type(o).__name__ for o in gc.get_objects())
    growth = (types_after - types_before).most_common(args.top)
    print("object types that grew:", growth, flush=True)
    # What the sessions gradio holds cost: drop them all and see what malloc gets back.
    holder = getattr(app.demo, "state_holder", None)
    if holder is not None:
        held = len(holder.session_data)
        with holder.lock:
            holder.session_data.clear()
            holder.time_last_used.clear()
        row = measure(f"dropping {held} sessions", done)
        print(json.dumps(row), flush=True)
        rows.append(row)
    app.demo.close()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"rows": rows, "object_growth": growth}, indent=1))
    print(f"results: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
