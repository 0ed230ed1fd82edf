"""The stemmer behind BM25 is used from the web chat's worker threads at once."""

from __future__ import annotations

import sys
import threading

from rag_qa.text import vocabulary as lexical


def test_stemming_from_many_threads_at_once():
    words = [f"{w}{i}ational" for i in range(4000) for w in ("organis", "rel", "condit")]
    expected = {w: lexical.stem.__wrapped__(w) for w in words[:50]}
    errors = []

    def work(chunk):
        try:
            for w in chunk:
                lexical.stem.__wrapped__(w)  # uncached: every call runs the stemmer
        except Exception as err:  # noqa: BLE001 - collected and asserted below
            errors.append(err)

    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible
    try:
        threads = [threading.Thread(target=work, args=(words[i::8],)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(old)
    assert errors == []
    assert {w: lexical.stem.__wrapped__(w) for w in expected} == expected


def test_stem_cache_is_bounded():
    assert lexical.stem.cache_info().maxsize == lexical.STEM_CACHE_SIZE
