"""Keeping the web chat's memory flat: giving freed heap back to the system, and bounded folders.

Measured under load (bench/mem_probe.py): besides gradio's per-visitor sessions (capped in
``app``), most of the growth of ``rag-qa serve`` is memory that is free but still held by glibc
malloc: each of gradio's worker threads that answers gets its own malloc arena (up to 8 per
core), the embedding model's tensors come and go in all of them, and the freed space stays
mapped (hundreds of MB after a few hundred questions). ``malloc_trim(0)`` hands it back.
``HeapTrimmer`` calls it from a background thread, at most every ``interval`` seconds and only
when questions were answered since the last time.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)

_LIBC = None


def _libc():
    global _LIBC
    if _LIBC is None:
        try:
            _LIBC = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
            _LIBC.malloc_trim.argtypes = [ctypes.c_size_t]
            _LIBC.malloc_trim.restype = ctypes.c_int
        except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to trim
            _LIBC = False
    return _LIBC or None


def trim_heap() -> bool:
    """Give the heap's free pages back to the system (glibc ``malloc_trim(0)``). False where
    there is no such call."""
    libc = _libc()
    if libc is None:
        return False
    libc.malloc_trim(0)
    return True


class HeapTrimmer:
    """Calls ``trim`` (``trim_heap``) every ``interval`` seconds when ``activity()`` (a counter
    of answers) has moved since the last call. ``start()`` runs it in a daemon thread until
    ``stop()``; ``tick()`` is one step (the tests call it directly)."""

    def __init__(
        self,
        activity: Callable[[], int],
        interval: float = 30.0,
        trim: Callable[[], bool] = trim_heap,
    ):
        self.activity = activity
        self.interval = interval
        self.trim = trim
        self.trims = 0
        self.seconds = 0.0  # spent trimming, in all
        self._seen = activity()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def tick(self) -> bool:
        """Trim if there was activity since the last tick; whether it trimmed."""
        now = self.activity()
        if now == self._seen:
            return False
        self._seen = now
        started = time.perf_counter()
        done = self.trim()
        took = time.perf_counter() - started
        if done:
            self.trims += 1
            self.seconds += took
            log.debug("malloc_trim in %.1f ms", 1000 * took)
        return done

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.tick()
            except Exception:  # never let the trimmer take the server down
                log.exception("heap trim failed")

    def start(self) -> HeapTrimmer:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="heap-trimmer", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None


def prune_files(folder: Path, keep: int, pattern: str = "*") -> int:
    """Delete the oldest files (by modification time) of ``folder`` matching ``pattern`` until
    at most ``keep`` are left; returns how many were deleted."""
    try:
        files = [p for p in folder.glob(pattern) if p.is_file()]
    except OSError:
        return 0
    if len(files) <= keep:
        return 0

    def mtime(p: Path) -> float:
        try:
            return p.stat().st_mtime
        except OSError:
            return 0.0

    removed = 0
    for path in sorted(files, key=mtime)[: len(files) - max(0, keep)]:
        try:
            path.unlink()
            removed += 1
        except OSError:
            continue
    return removed
