"""The on-disk layout of ``index/`` and its atomic switch.

    index/CURRENT        name of the live generation (replaced atomically with os.replace)
    index/.lock          held (flock) by the build that is running
    index/gen-000007/    manifest.json, chunks.sqlite, vectors.faiss, bm25/
    index/tmp-*/         a generation being built; deleted when a build fails or restarts

A build writes a complete generation aside and only then points CURRENT at it, so a crash
at any moment leaves the previous generation in place and loadable.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import re
import shutil
import uuid
from pathlib import Path

from rag_qa.settings import Settings

MANIFEST = "manifest.json"
STORE = "chunks.sqlite"
VECTORS = "vectors.faiss"
BM25 = "bm25"
FORMAT = 1
_GEN = re.compile(r"^gen-(\d{6})$")


class IndexError_(Exception):
    """The index cannot be used; the message says why and what to run."""


class BuildLocked(Exception):
    pass


def current_generation(index_dir: Path) -> Path | None:
    pointer = index_dir / "CURRENT"
    try:
        name = pointer.read_text().strip()
    except FileNotFoundError:
        return None
    if not _GEN.match(name):
        raise IndexError_(f"{pointer} is damaged ({name!r}); run: rag-qa index --full")
    return index_dir / name


def next_generation_name(index_dir: Path) -> str:
    numbers = [int(m[1]) for p in index_dir.glob("gen-*") if (m := _GEN.match(p.name))]
    return f"gen-{(max(numbers) + 1 if numbers else 1):06d}"


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_tree(path: Path) -> None:
    for item in path.rglob("*"):
        if item.is_file():
            with item.open("rb") as fh:
                os.fsync(fh.fileno())
    fsync_dir(path)


@contextlib.contextmanager
def tmp_generation(index_dir: Path):
    """A fresh ``tmp-*`` folder for a generation being built; deleted if the block fails."""
    tmp = index_dir / f"tmp-{uuid.uuid4().hex[:12]}"
    tmp.mkdir(parents=True)
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def rename_into_place(index_dir: Path, tmp: Path) -> Path:
    """Move a finished generation to the next ``gen-NNNNNN``, synced; not live yet."""
    fsync_tree(tmp)
    final = index_dir / next_generation_name(index_dir)
    os.rename(tmp, final)
    fsync_dir(index_dir)
    return final


def switch_current(index_dir: Path, gen: Path) -> None:
    """Point CURRENT at ``gen`` with one atomic replace (the commit point)."""
    pointer_tmp = index_dir / "CURRENT.tmp"
    with pointer_tmp.open("w") as fh:
        fh.write(gen.name + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(pointer_tmp, index_dir / "CURRENT")
    fsync_dir(index_dir)


def publish(index_dir: Path, tmp: Path) -> Path:
    """Move a finished generation into place and point CURRENT at it (the commit point)."""
    final = rename_into_place(index_dir, tmp)
    switch_current(index_dir, final)
    return final


def prune(index_dir: Path, keep: int = 2) -> None:
    """Delete leftovers of crashed builds and all but the newest ``keep`` generations."""
    try:
        live = current_generation(index_dir)
    except IndexError_:
        live = None  # a damaged CURRENT: the build replaces it; keep every generation
        keep = max(keep, 1_000_000)
    for tmp in index_dir.glob("tmp-*"):
        shutil.rmtree(tmp, ignore_errors=True)
    gens = sorted(p for p in index_dir.glob("gen-*") if _GEN.match(p.name))
    for old in gens[:-keep]:
        if old != live:
            shutil.rmtree(old, ignore_errors=True)


@contextlib.contextmanager
def build_lock(index_dir: Path, wait: bool = False):
    """Exclusive lock for one build; the kernel drops it if the process dies."""
    index_dir.mkdir(parents=True, exist_ok=True)
    path = index_dir / ".lock"
    fh = path.open("a+")
    try:
        flags = fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB)
        try:
            fcntl.flock(fh, flags)
        except OSError as err:
            if err.errno in (errno.EAGAIN, errno.EACCES):
                fh.seek(0)
                holder = fh.read().strip() or "another process"
                raise BuildLocked(
                    f"another 'rag-qa index' is already building {index_dir} ({holder}); "
                    "wait for it to finish, or use --wait"
                ) from err
            raise
        fh.seek(0)
        fh.truncate()
        fh.write(f"pid {os.getpid()}")
        fh.flush()
        yield
    finally:
        fh.close()


def read_manifest(gen: Path) -> dict:
    path = gen / MANIFEST
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError as err:
        raise IndexError_(f"{path} is missing; run: rag-qa index --full") from err
    except (OSError, ValueError) as err:
        raise IndexError_(f"{path} is damaged ({err}); run: rag-qa index --full") from err
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise IndexError_(f"{path} has an unknown format; run: rag-qa index --full")
    return data


def check_compatible(manifest: dict, settings: Settings, where: Path) -> None:
    """Refuse an index built with other settings, naming what differs."""
    if manifest.get("index_key") == settings.index_key():
        return
    built = manifest.get("settings", {})
    wanted = settings.index_params()
    diffs = [
        f"{k}: index has {built.get(k)!r}, settings ask {v!r}"
        for k, v in wanted.items()
        if built.get(k) != v
    ]
    detail = "; ".join(diffs) or "settings hash differs"
    raise IndexError_(
        f"the index in {where} was built with other settings ({detail}); "
        "rebuild it with: rag-qa index --full"
    )
