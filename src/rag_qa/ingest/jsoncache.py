"""A folder of JSON files named by a SHA-256 key: the OCR results (``index/ocr-cache``) and the
parsed files (``index/parse-cache``) kept beside the index's generations.

One file a key, ``<key>.json`` (``<key>.json.gz`` when compressed); keys are 64 hex digits, so
a name can never point out of the folder. Writes are atomic (a hidden tmp file in the folder,
then ``os.replace``): a crash leaves the old entry or none. Reads are guarded: the folder and
its entries are opened relative to one directory descriptor without following symbolic links,
only a regular file is read, at most ``max_bytes`` of it (decompressed), and it must hold a
JSON object. An entry that fails any of these is a miss with one warning, never an error: a
cache that cannot be read or written only costs time. Needs ``O_NOFOLLOW`` and ``dir_fd``
(Linux, macOS); elsewhere nothing is cached.
"""

from __future__ import annotations

import contextlib
import errno
import gzip
import json
import logging
import os
import re
import stat
import threading
import zlib
from pathlib import Path

log = logging.getLogger(__name__)

KEY = re.compile(r"[0-9a-f]{64}")
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_SUPPORTED = bool(_NOFOLLOW) and os.open in os.supports_dir_fd


class _Unusable(ValueError):
    """An entry that is there but cannot be used (the reason is the message)."""


class JsonCache:
    """``get(key)`` / ``put(key, body)`` of JSON objects in ``folder`` (created on first put).
    ``logger`` gets the warnings; ``what`` names the cache in them."""

    def __init__(
        self,
        folder: str | Path,
        *,
        compress: bool = False,
        max_bytes: int = 64 << 20,
        what: str = "cache",
        logger: logging.Logger = log,
    ):
        self.folder = Path(folder)
        self.compress = compress
        self.max_bytes = max_bytes
        self.what = what
        self.log = logger
        self.suffix = ".json.gz" if compress else ".json"
        self._folder_warned = False

    def name(self, key: str) -> str:
        if not KEY.fullmatch(key):
            raise ValueError(f"not a cache key: {key!r}")
        return key + self.suffix

    def _dir(self, create: bool = False) -> int | None:
        """A descriptor of the folder (never through a link); None when there is none."""
        if not _SUPPORTED:
            return None
        try:
            if create:
                self.folder.mkdir(parents=True, exist_ok=True)
            return os.open(self.folder, os.O_RDONLY | os.O_DIRECTORY | _NOFOLLOW)
        except FileNotFoundError:
            return None
        except OSError as err:
            if not self._folder_warned:  # once, not once an entry
                why = _why(err) if not self.folder.is_symlink() else _why(OSError(errno.ELOOP, ""))
                self.log.warning("%s %s not used: %s", self.what, self.folder, why)
                self._folder_warned = True
            return None

    def has(self, key: str) -> bool:
        """Whether an entry for ``key`` is there as a regular file (a link or anything else
        there is a warning and a miss)."""
        fd = self._dir()
        if fd is None:
            return False
        name = self.name(key)
        try:
            mode = os.stat(name, dir_fd=fd, follow_symlinks=False).st_mode
        except OSError:
            return False
        finally:
            os.close(fd)
        if not stat.S_ISREG(mode):
            self._ignored(name, "not a regular file (a link?)")
        return stat.S_ISREG(mode)

    def get(self, key: str) -> dict | None:
        """The object stored for ``key``; None when there is none or it cannot be used."""
        fd = self._dir()
        if fd is None:
            return None
        name = self.name(key)
        try:
            data = self._read(fd, name)
            if data is None:
                return None
            body = json.loads(data)
            if not isinstance(body, dict):
                raise _Unusable("not a JSON object")
            return body
        except (OSError, ValueError, RecursionError) as err:
            self._ignored(name, _why(err) if isinstance(err, OSError) else str(err))
            return None
        finally:
            os.close(fd)

    def _read(self, fd: int, name: str) -> bytes | None:
        try:
            f = os.open(name, os.O_RDONLY | _NOFOLLOW | os.O_NONBLOCK, dir_fd=fd)
        except FileNotFoundError:
            return None
        with os.fdopen(f, "rb") as fh:
            st = os.fstat(fh.fileno())
            if not stat.S_ISREG(st.st_mode):
                raise _Unusable("not a regular file")
            if st.st_size > self.max_bytes:
                raise _Unusable(f"over {self.max_bytes:,} bytes")
            data = fh.read(self.max_bytes + 1)
        if self.compress:
            inflate = zlib.decompressobj(wbits=31)  # gzip
            try:
                data = inflate.decompress(data, self.max_bytes + 1)
            except zlib.error as err:
                raise _Unusable(f"not gzip ({err})") from err
            if not inflate.eof:
                raise _Unusable(
                    f"over {self.max_bytes:,} bytes" if inflate.unconsumed_tail else "truncated"
                )
        if len(data) > self.max_bytes:
            raise _Unusable(f"over {self.max_bytes:,} bytes")
        return data

    def put(self, key: str, body: dict) -> bool:
        """Store ``body`` for ``key`` atomically; False when it was not stored (too large, or
        the folder cannot be written)."""
        data = json.dumps(body, separators=(",", ":")).encode("ascii")
        if len(data) > self.max_bytes:
            self.log.info("%s: %s not stored (over %d bytes)", self.what, key, self.max_bytes)
            return False
        if self.compress:
            data = gzip.compress(data, compresslevel=6, mtime=0)
        name = self.name(key)
        fd = self._dir(create=True)
        if fd is None:
            return False
        tmp = f".{name}.{os.getpid()}.{threading.get_ident()}.tmp"
        try:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp, dir_fd=fd)  # a crashed writer's, never written through
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW
            with os.fdopen(os.open(tmp, flags, 0o644, dir_fd=fd), "wb") as fh:
                fh.write(data)
            os.replace(tmp, name, src_dir_fd=fd, dst_dir_fd=fd)  # replaces a link, never follows
            return True
        except OSError as err:
            self.log.info("%s: %s not stored (%s)", self.what, key, _why(err))
            with contextlib.suppress(OSError):
                os.unlink(tmp, dir_fd=fd)
            return False
        finally:
            os.close(fd)

    def prune(self, keep: set[str]) -> int:
        """Delete the entries whose key is not in ``keep`` (links named like entries too, as
        links) and leftover tmp files; anything else in the folder is left alone. Only while
        nothing writes to the cache (the index build holds its lock). Returns how many."""
        fd = self._dir()
        if fd is None:
            return 0
        removed = 0
        try:
            for name in os.listdir(fd):
                key = name[: -len(self.suffix)] if name.endswith(self.suffix) else ""
                stale = KEY.fullmatch(key) and key not in keep
                if not stale and not (name.startswith(".") and name.endswith(".tmp")):
                    continue
                try:
                    if stat.S_ISDIR(os.stat(name, dir_fd=fd, follow_symlinks=False).st_mode):
                        continue
                    os.unlink(name, dir_fd=fd)
                    removed += 1
                except OSError:
                    pass
        except OSError as err:
            self.log.info("%s %s not pruned: %s", self.what, self.folder, _why(err))
        finally:
            os.close(fd)
        return removed

    def _ignored(self, name: str, why: str) -> None:
        self.log.warning("%s entry %s ignored: %s", self.what, self.folder / name, why)


def _why(err: OSError) -> str:
    if err.errno == errno.ELOOP:
        return "it is a symbolic link (never followed)"
    return err.strerror or str(err)
