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


def test_the_c_stemmer_gives_the_pure_python_snowball_stems():
    """PyStemmer (snowballstemmer's C backend, used when installed) is what stems, and it
    gives the very stems of snowballstemmer's own pure-Python English stemmer on every word
    of both eval suites' questions and accepted answers (an index built with either is read
    the same)."""
    import json
    import re

    from conftest import REPO
    from snowballstemmer.english_stemmer import EnglishStemmer

    assert type(lexical._stemmer()).__module__ == "Stemmer"
    words = set()
    for name in ("questions.jsonl", "multi_council.jsonl"):
        for line in (REPO / "eval" / name).read_text(encoding="utf-8").splitlines():
            words.update(re.findall(r"[a-z']+", json.dumps(json.loads(line)).lower()))
    assert len(words) > 1500
    python_side = EnglishStemmer()
    assert {w: lexical.stem.__wrapped__(w) for w in words} == {
        w: python_side.stemWord(w.removesuffix("'s")) for w in words
    }


def test_kept_word_and_token_sets_are_those_of_words_and_tokenize():
    text = "Management oversight of care leavers' plans is now strong; caseloads are manageable."
    assert lexical.word_set(text) == set(lexical.words(text))
    assert lexical.token_set(text) == set(lexical.tokenize(text))
    assert "manag_oversight" in lexical.token_set(text)
    assert lexical.token_set(text) is lexical.token_set(text)  # kept, not made again
