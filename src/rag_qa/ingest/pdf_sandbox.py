"""Parse PDFs in child processes, so that one file cannot hang or exhaust the index build.

A worker is a ``python -m rag_qa.ingest.pdf_sandbox`` process that sets its own address-space limit
(``RLIMIT_AS``) and then parses one PDF per request: a JSON line on its stdin, answered by a
length-prefixed JSON object on its stdout (``loaders.read_pdf_pages``' pages and warnings, or
the problem). The parent enforces a timeout per file and kills the worker when it runs over;
a worker that ran out of memory, crashed or was killed is replaced by a fresh one,
and every worker is retired after ``RECYCLE_AFTER`` files, so nothing one file does can leak
far. Reusing workers saves the start-up of a process per file (about 0.12 s: the interpreter
and pypdf), which on the sample corpus was a third of the parse time.

``PdfParser`` runs these workers from a few threads and parses PDFs ahead of the build loop,
so the model can encode the chunks of one file while the next files are being parsed. Workers
run at a lower priority (``PdfLimits.nice``): the model's threads keep the cores and the
workers parse in the gaps (and at full speed whenever the build waits for a file). On two
cores this cut the sample corpus's build from 62.6 to 57.2 s. A worker that waits for a core
is not at fault, so on Linux the timeout counts the worker's CPU seconds, not the wall clock
(with a wall-clock cap of ``WALL_FACTOR`` times the timeout).

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

from rag_qa.ingest.loaders import DEFAULT_OCR, LoadError, PdfPages
from rag_qa.ingest.ocr import OcrOptions
from rag_qa.settings import IngestSettings

log = logging.getLogger(__name__)

MEMORY_EXIT = 86  # the child's exit code when it ran out of memory and could not say so
_SRC = str(Path(__file__).resolve().parent.parent)  # so the child imports this very package


@dataclass(frozen=True)
class PdfLimits:
    """Limits of one PDF's parse; the defaults are ``IngestSettings``' (see there)."""

    timeout_s: float = IngestSettings.pdf_timeout_s  # per PDF (see the module's note); 0: none
    memory_mb: int = IngestSettings.pdf_memory_mb  # the child's address space; 0 or less: none
    nice: int = IngestSettings.pdf_nice  # added to the workers' niceness; 0: the caller's
    ocr: OcrOptions | None = DEFAULT_OCR  # pages without a text layer; None: no OCR

    @classmethod
    def from_settings(cls, ingest: IngestSettings, ocr_cache: str = "") -> PdfLimits:
        ocr = None
        if ingest.ocr:
            ocr = OcrOptions(ingest.ocr_dpi, ingest.ocr_max_pages, ingest.ocr_workers, ocr_cache)
        return cls(ingest.pdf_timeout_s, ingest.pdf_memory_mb, ingest.pdf_nice, ocr)


# A parse that has used less CPU than its timeout is still stopped after this many times the
# timeout on the wall clock (a worker starved for that long is as good as hung).
WALL_FACTOR = 4


def _cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of a running process (Linux /proc), None where unknown."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


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
            pages = PdfPages(((n, text) for n, text in result["pages"]), result.get("ocr", ()))
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


RECYCLE_AFTER = 200  # files per worker before it is replaced by a fresh one
_FRAME = 8  # bytes of the length prefix of each answer


class _Worker:
    """One child process that parses PDFs one request at a time."""

    def __init__(self, limits: PdfLimits):
        import subprocess
        import tempfile

        self.limits = limits
        self.files = 0
        self.stderr = tempfile.TemporaryFile()  # noqa: SIM115 - closed by close()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "rag_qa.ingest.pdf_sandbox"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.stderr,
            env=_child_env(),
        )
        setup = {"memory_mb": limits.memory_mb, "nice": limits.nice, "parent": os.getpid()}
        setup["ocr"] = limits.ocr.to_json() if limits.ocr is not None else None
        self.proc.stdin.write(json.dumps(setup).encode() + b"\n")
        self.proc.stdin.flush()

    def parse(self, path: Path, source: str) -> tuple[bytes | None, bool]:
        """The raw answer for one file, or None when the worker died; and whether the time
        ran out (the worker is then killed)."""
        self.files += 1
        request = json.dumps({"path": str(path), "source": source}).encode() + b"\n"
        try:
            self.proc.stdin.write(request)
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            return None, False
        self._started = (time.monotonic(), _cpu_seconds(self.proc.pid))
        try:
            size = int.from_bytes(self._read(_FRAME), "little")
            return self._read(size), False
        except TimeoutError:
            self.kill()
            return None, True
        except EOFError:
            return None, False

    def _time_left(self) -> float | None:
        """Seconds this file may still take: its timeout less the CPU seconds the worker has
        used on it (less the wall-clock seconds where CPU time is unknown), and never past
        ``WALL_FACTOR`` times the timeout on the wall clock. None: no limit."""
        timeout = self.limits.timeout_s
        if timeout <= 0:
            return None
        wall0, cpu0 = self._started
        wall = time.monotonic() - wall0
        cpu = _cpu_seconds(self.proc.pid)
        used = wall if cpu is None or cpu0 is None else cpu - cpu0
        return max(0.0, min(timeout - used, WALL_FACTOR * timeout - wall))

    def _read(self, n: int) -> bytes:
        import select

        fd = self.proc.stdout.fileno()
        chunks, got = [], 0
        while got < n:
            ready, _, _ = select.select([fd], [], [], self._time_left())
            if not ready:  # only with a limit: select without a timeout waits for data
                if self._time_left():
                    continue  # the worker waited for a core: its CPU budget is not spent
                raise TimeoutError
            data = os.read(fd, min(n - got, 1 << 20))
            if not data:
                raise EOFError
            chunks.append(data)
            got += len(data)
        return b"".join(chunks)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def returncode(self) -> int:
        try:
            return self.proc.wait(timeout=10)
        except Exception:  # noqa: BLE001 - still running after its pipe closed: kill it
            self.kill()
            return self.proc.returncode or -9

    def stderr_tail(self) -> bytes:
        with contextlib.suppress(OSError, ValueError):
            self.stderr.seek(0, os.SEEK_END)
            size = self.stderr.tell()
            self.stderr.seek(max(0, size - 4096))
            return self.stderr.read()
        return b""

    def kill(self) -> None:
        with contextlib.suppress(OSError):
            self.proc.kill()
        with contextlib.suppress(Exception):
            self.proc.wait(timeout=10)

    def close(self) -> None:
        """Ask the worker to exit (end of its stdin), kill it if it does not."""
        with contextlib.suppress(OSError, ValueError):
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=2)
        except Exception:  # noqa: BLE001
            self.kill()
        for stream in (self.proc.stdout, self.stderr):
            with contextlib.suppress(OSError, ValueError):
                stream.close()


class PdfParser:
    """``parser(path, source)`` gives a PDF's pages, parsed in a worker process under ``limits``.

    Use it as ``load_file(..., read_pdf=parser)``. ``prefetch`` queues PDFs that will be asked
    for, in order; up to ``workers`` workers then parse ahead of the caller, never more than
    ``lookahead`` files ahead (their text waits in memory). ``close`` stops the workers.
    """

    def __init__(self, limits: PdfLimits, workers: int = 2, lookahead: int | None = None):
        self.limits = limits
        self.workers = max(1, int(workers))
        self.lookahead = max(1, lookahead or 8 * self.workers)
        self.stats: list[ParseStat] = []
        self._pending: deque[tuple[Path, str]] = deque()
        self._futures: dict[tuple[str, str], object] = {}
        self._executor = None
        self._idle: list[_Worker] = []
        self._busy: set[_Worker] = set()
        self._lock = threading.Lock()
        self._closed = False
        self.started = 0  # worker processes started so far

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
            logging.getLogger("rag_qa.ingest.loaders").warning("%s", warning)
        return pages

    def close(self) -> None:
        with self._lock:
            self._closed = True
            busy, idle = list(self._busy), list(self._idle)
            self._idle.clear()
        self._pending.clear()
        for future in self._futures.values():
            future.cancel()
        self._futures.clear()
        for worker in busy:  # their threads see them die and return at once
            worker.kill()
        for worker in idle:
            worker.close()
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

    def _checkout(self) -> _Worker:
        with self._lock:
            if self._closed:
                raise _Interrupted
            worker = self._idle.pop() if self._idle else None
            if worker is None:
                worker = _Worker(self.limits)  # OSError: no process can be started
                self.started += 1
            self._busy.add(worker)
            return worker

    def _checkin(self, worker: _Worker, reusable: bool) -> None:
        with self._lock:
            self._busy.discard(worker)
            if reusable and not self._closed and worker.files < RECYCLE_AFTER:
                self._idle.append(worker)
                return
        worker.close()

    def _parse(self, path: Path, source: str) -> tuple[list[tuple[int | None, str]], list[str]]:
        limits = self.limits
        started = time.perf_counter()
        try:
            worker = self._checkout()
        except _Interrupted:
            raise LoadError(source, "parsing was interrupted") from None
        except OSError as err:  # no child can be started here: parse in this process instead
            log.warning(
                "%s: cannot start a process to parse it (%s); parsing it unguarded", source, err
            )
            from rag_qa.ingest.loaders import read_pdf_pages

            return read_pdf_pages(path, source, limits.ocr)
        reusable = False
        try:
            answer, timed_out = worker.parse(path, source)
            if self._closed:
                raise LoadError(source, "parsing was interrupted")
            if timed_out:
                self.stats.append(ParseStat(source, time.perf_counter() - started, None))
                raise timeout_error(source, limits)
            if answer is None:  # the worker died on this file
                out, code = b"", worker.returncode()
            else:
                out, code = answer, 0
            try:
                pages, warnings, seconds = _outcome(
                    code, out, worker.stderr_tail() if answer is None else b"", source, limits
                )
            except BaseException:
                self.stats.append(ParseStat(source, time.perf_counter() - started, None))
                reusable = answer is not None and b'"memory"' not in out[:40]
                raise
            reusable = True
            self.stats.append(ParseStat(source, time.perf_counter() - started, seconds))
            return pages, warnings
        finally:
            self._checkin(worker, reusable and worker.alive())


class _Interrupted(Exception):
    pass


# -- the child -----------------------------------------------------------------------------


def _set_limits(memory_mb: int) -> None:
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


def _parse_one(request: dict, read_pdf_pages, ocr: OcrOptions | None = None) -> dict:
    path, source = Path(request["path"]), request["source"]
    started = time.perf_counter()
    try:
        pages, warnings = read_pdf_pages(path, source, ocr)
        seconds = time.perf_counter() - started
        return {"pages": pages, "ocr": list(pages.ocr), "warnings": warnings, "seconds": seconds}
    except LoadError as err:
        return {"problem": err.problem, "hint": err.hint}
    except MemoryError:
        return {"memory": True}
    except OSError as err:
        return {"os_error": [err.errno, err.strerror or str(err)]}
    except Exception as err:  # noqa: BLE001 - anything else is the file's fault, said in one line
        return {
            "problem": f"the PDF could not be parsed ({type(err).__name__})",
            "hint": "replace the file",
        }


def _child_main() -> int:
    result_fd = os.dup(1)
    os.dup2(2, 1)  # whatever a library prints goes to stderr, not into the answers
    out = os.fdopen(result_fd, "wb")
    stdin = sys.stdin.buffer
    setup = json.loads(stdin.readline() or b"{}")
    _die_with_parent(int(setup.get("parent", 0)))
    _set_limits(int(setup.get("memory_mb", 0)))
    ocr = OcrOptions(**setup["ocr"]) if setup.get("ocr") else None
    if int(setup.get("nice", 0)) > 0:
        with contextlib.suppress(OSError):
            os.nice(int(setup["nice"]))
    try:
        import pypdf  # noqa: F401 - imported once, before the first file

        from rag_qa.ingest.loaders import read_pdf_pages
    except ImportError as err:
        read_pdf_pages, setup_error = None, f"{type(err).__name__}: {err}"
    for line in stdin:
        request = json.loads(line)
        if read_pdf_pages is None:
            result = {
                "problem": f"the PDF reader could not start ({setup_error})",
                "hint": "check the install",
            }
        else:
            result = _parse_one(request, read_pdf_pages, ocr)
        try:
            data = json.dumps(result).encode("ascii")
            del result
            out.write(len(data).to_bytes(_FRAME, "little") + data)
            out.flush()
        except MemoryError:
            os._exit(MEMORY_EXIT)
        if b'"memory"' in data[:40]:
            return 0  # its heap may be in pieces: the parent starts a fresh worker
    return 0


if __name__ == "__main__":
    sys.exit(_child_main())
