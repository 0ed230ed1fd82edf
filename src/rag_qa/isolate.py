"""Parse PDFs in child processes, so that one file cannot hang or exhaust the index build.

Each PDF is parsed by a fresh ``python -m rag_qa.isolate`` process that reads one request (JSON
on stdin), sets its own address-space limit (``RLIMIT_AS``) and a CPU-time backstop, runs
``loaders.read_pdf_pages`` and writes one JSON object on stdout. The parent enforces a
wall-clock timeout and kills the child when it runs over. A fresh process per file is the
simplest thing that is always safe: nothing leaks from one file to the next, a child can be
killed at any moment, and the parent (with torch and the model loaded) is never forked.

``PdfParser`` runs these children from a few threads and parses PDFs a little ahead of the
build loop, which hides the start-up cost of each child (about 0.1 s: the interpreter and
pypdf) behind the cleaning, chunking and parsing of the files before it.

The pages are exactly what in-process parsing (``loaders.load_pdf``) gives: the child runs the
same function and JSON carries the strings unchanged (lone surrogates included).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
import threading
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from .loaders import LoadError

log = logging.getLogger(__name__)

MEMORY_EXIT = 86  # the child's exit code when it ran out of memory and could not say so
_SRC = str(Path(__file__).resolve().parent.parent)  # so the child imports this very package


@dataclass(frozen=True)
class PdfLimits:
    timeout_s: float = 60.0  # wall-clock seconds per PDF; 0 or less: no limit
    memory_mb: int = 1536  # address space of the child; 0 or less: no limit


def _seconds(value: float) -> str:
    return f"{value:g}"


def timeout_error(source: str, limits: PdfLimits) -> LoadError:
    return LoadError(
        source,
        f"parsing took longer than {_seconds(limits.timeout_s)} s; the PDF may be malformed",
        "replace the file",
    )


def memory_error(source: str, limits: PdfLimits) -> LoadError:
    return LoadError(
        source,
        f"parsing needed more than {limits.memory_mb} MB of memory; the PDF may be malformed "
        "or a decompression bomb",
        "replace the file",
    )


@dataclass
class ParseStat:
    source: str
    wall_s: float  # from starting the child to having its answer
    parse_s: float | None  # time the child spent in read_pdf_pages (None: it did not finish)

    @property
    def overhead_s(self) -> float | None:
        return None if self.parse_s is None else self.wall_s - self.parse_s


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    path = env.get("PYTHONPATH")
    env["PYTHONPATH"] = _SRC + (os.pathsep + path if path else "")
    env.setdefault("PYTHONIOENCODING", "utf-8")
    return env


def _outcome(
    returncode: int, out: bytes, err: bytes, source: str, limits: PdfLimits
) -> tuple[list[tuple[int | None, str]], list[str], float | None]:
    """Pages, warnings and parse time from a finished child, or the error it stands for."""
    try:
        result = json.loads(out) if out.strip() else None
    except ValueError:
        result = None
    if isinstance(result, dict):
        if "pages" in result:
            pages = [(number, text) for number, text in result["pages"]]
            return pages, list(result.get("warnings", [])), result.get("seconds")
        if "problem" in result:
            raise LoadError(source, result["problem"], result.get("hint", ""))
        if result.get("memory"):
            raise memory_error(source, limits)
        if "os_error" in result:
            number, message = result["os_error"]
            raise OSError(number, message)  # FileNotFoundError etc.: load_file words it
    import signal

    tail = err.decode("utf-8", errors="replace")
    if returncode == MEMORY_EXIT or "MemoryError" in tail or returncode == -signal.SIGKILL:
        raise memory_error(source, limits)  # SIGKILL: most likely the kernel's OOM killer
    if returncode == -getattr(signal, "SIGXCPU", -1000):
        raise timeout_error(source, limits)  # the CPU-time backstop fired
    if returncode < 0:
        try:
            how = f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            how = f"killed by signal {-returncode}"
    else:
        how = f"exit code {returncode}"
    last = tail.strip().splitlines()[-1:] or [""]
    detail = f": {last[0][:120]}" if last[0] else ""
    raise LoadError(source, f"the PDF reader crashed ({how}{detail})", "replace the file")


class PdfParser:
    """``parser(path, source)`` gives a PDF's pages, parsed in a child process under ``limits``.

    Use it as ``load_file(..., read_pdf=parser)``. ``prefetch`` queues PDFs that will be asked
    for, in order; up to ``workers`` children then parse ahead of the caller, never more than
    ``lookahead`` files ahead (their text waits in memory). ``close`` kills running children.
    """

    def __init__(self, limits: PdfLimits, workers: int = 2, lookahead: int | None = None):
        self.limits = limits
        self.workers = max(1, int(workers))
        self.lookahead = max(1, lookahead or 2 * self.workers)
        self.stats: list[ParseStat] = []
        self._pending: deque[tuple[Path, str]] = deque()
        self._futures: dict[tuple[str, str], object] = {}
        self._executor = None
        self._procs: set = set()
        self._lock = threading.Lock()
        self._closed = False

    # -- the caller's side -----------------------------------------------------------------

    def prefetch(self, items: Iterable[tuple[Path, str]]) -> None:
        self._pending.extend(items)
        self._top_up()

    def __call__(self, path: Path, source: str) -> list[tuple[int | None, str]]:
        key = (str(path), source)
        future = self._futures.pop(key, None)
        if future is None:
            self._pending = deque(i for i in self._pending if (str(i[0]), i[1]) != key)
            future = self._pool().submit(self._parse, path, source)
        self._top_up()
        pages, warnings = future.result()
        for warning in warnings:
            logging.getLogger("rag_qa.loaders").warning("%s", warning)
        return pages

    def close(self) -> None:
        with self._lock:
            self._closed = True
            procs = list(self._procs)
        self._pending.clear()
        for future in self._futures.values():
            future.cancel()
        self._futures.clear()
        for proc in procs:  # their threads see them die and return at once
            with contextlib.suppress(OSError):
                proc.kill()
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None

    def __enter__(self) -> PdfParser:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- the workers' side -----------------------------------------------------------------

    def _pool(self):
        if self._executor is None:
            from concurrent.futures import ThreadPoolExecutor

            self._executor = ThreadPoolExecutor(self.workers, thread_name_prefix="rag-qa-pdf")
        return self._executor

    def _top_up(self) -> None:
        while self._pending and len(self._futures) < self.lookahead and not self._closed:
            path, source = self._pending.popleft()
            key = (str(path), source)
            if key not in self._futures:
                self._futures[key] = self._pool().submit(self._parse, path, source)

    def _parse(self, path: Path, source: str) -> tuple[list[tuple[int | None, str]], list[str]]:
        import subprocess

        limits = self.limits
        request = json.dumps(
            {
                "path": str(path),
                "source": source,
                "memory_mb": limits.memory_mb,
                "cpu_s": limits.timeout_s,
                "parent": os.getpid(),
            }
        ).encode()
        started = time.perf_counter()
        with self._lock:
            if self._closed:
                raise LoadError(source, "parsing was interrupted")
            try:
                proc = subprocess.Popen(
                    [sys.executable, "-m", "rag_qa.isolate"],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    env=_child_env(),
                )
            except OSError as err:
                proc = None
                spawn_error = err
            else:
                self._procs.add(proc)
        if proc is None:  # no child can be started here: parse in this process instead
            log.warning(
                "%s: cannot start a process to parse it (%s); parsing it unguarded",
                source,
                spawn_error,
            )
            from .loaders import read_pdf_pages

            return read_pdf_pages(path, source)
        try:
            timeout = limits.timeout_s if limits.timeout_s > 0 else None
            try:
                out, err = proc.communicate(request, timeout=timeout)
            except subprocess.TimeoutExpired:
                _kill(proc)
                self.stats.append(ParseStat(source, time.perf_counter() - started, None))
                raise timeout_error(source, limits) from None
        finally:
            with self._lock:
                self._procs.discard(proc)
            if proc.poll() is None:
                _kill(proc)
        if self._closed:
            raise LoadError(source, "parsing was interrupted")
        try:
            pages, warnings, seconds = _outcome(proc.returncode, out, err, source, limits)
        except BaseException:
            self.stats.append(ParseStat(source, time.perf_counter() - started, None))
            raise
        self.stats.append(ParseStat(source, time.perf_counter() - started, seconds))
        return pages, warnings


def _kill(proc) -> None:
    with contextlib.suppress(OSError):
        proc.kill()
    try:
        proc.communicate(timeout=10)
    except Exception:  # noqa: BLE001 - pipes already closed, or a child that will not die
        proc.wait()


def parse_pdf(path: Path, source: str, limits: PdfLimits) -> list[tuple[int | None, str]]:
    """One PDF's pages, parsed in a child process under ``limits``."""
    with PdfParser(limits, workers=1) as parser:
        return parser(path, source)


# -- the child -----------------------------------------------------------------------------


def _set_limits(memory_mb: int, cpu_s: float) -> None:
    try:
        import resource
    except ImportError:  # not on Unix: only the parent's wall-clock timeout applies
        return

    def lower(kind: int, value: int) -> None:
        soft, hard = resource.getrlimit(kind)
        if hard != resource.RLIM_INFINITY:
            value = min(value, hard)
        if soft == resource.RLIM_INFINITY or value < soft:
            resource.setrlimit(kind, (value, hard))

    lower(resource.RLIMIT_CORE, 0)
    if memory_mb > 0:
        lower(resource.RLIMIT_AS, memory_mb << 20)
    if cpu_s > 0:  # a backstop should the parent die and leave this child behind
        lower(resource.RLIMIT_CPU, int(cpu_s) + 5)


def _die_with_parent(parent: int) -> None:
    """Linux: have the kernel kill this child if the build process dies (even by SIGKILL)."""
    if sys.platform.startswith("linux"):
        try:
            import ctypes
            import signal

            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
    if parent and os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


class _SetupError(Exception):
    """The child cannot import what it needs: the installation's fault, not the file's."""


def _child_main() -> int:
    result_fd = os.dup(1)
    os.dup2(2, 1)  # whatever a library prints goes to stderr, not into the answer
    try:
        request = json.loads(sys.stdin.buffer.read())
        _die_with_parent(int(request.get("parent", 0)))
        _set_limits(int(request.get("memory_mb", 0)), float(request.get("cpu_s", 0)))
        path, source = Path(request["path"]), request["source"]
        try:
            import pypdf  # noqa: F401 - imported before the clock starts: its cost is overhead

            from .loaders import read_pdf_pages
        except ImportError as err:
            raise _SetupError(f"{type(err).__name__}: {err}") from err
        started = time.perf_counter()
        pages, warnings = read_pdf_pages(path, source)
        result = {"pages": pages, "warnings": warnings, "seconds": time.perf_counter() - started}
    except LoadError as err:
        result = {"problem": err.problem, "hint": err.hint}
    except _SetupError as err:
        result = {"problem": f"the PDF reader could not start ({err})", "hint": "check the install"}
    except MemoryError:
        result = {"memory": True}
    except OSError as err:
        result = {"os_error": [err.errno, err.strerror or str(err)]}
    except Exception as err:  # noqa: BLE001 - anything else is the file's fault, said in one line
        result = {
            "problem": f"the PDF could not be parsed ({type(err).__name__})",
            "hint": "replace the file",
        }
    try:
        data = json.dumps(result).encode("ascii")
        del result
        with os.fdopen(result_fd, "wb") as out:
            out.write(data)
    except MemoryError:
        os._exit(MEMORY_EXIT)
    return 0


if __name__ == "__main__":
    sys.exit(_child_main())
