"""The eval suites: each names its questions, its corpus and the figures it must reach.

``eval/suites.json`` lists them (paths relative to the project folder, the one holding
``eval/``). ``rag-qa eval --suite slough --suite multi-council`` refreshes each suite's index
(only what changed is embedded), runs its questions through the engine, prints its table, then
fits the abstention thresholds on every suite's rows together, so that a threshold is never
fitted on one council's reports alone.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from rag_qa.engine import Engine
from rag_qa.evaluation import suite as E
from rag_qa.evaluation.suite import EvalError
from rag_qa.index.build import run_build
from rag_qa.settings import Settings

SUITES_FILE = Path("eval") / "suites.json"


@dataclass(frozen=True)
class Suite:
    name: str
    questions: Path
    corpus: Path
    index: Path
    description: str = ""
    gate: dict = field(default_factory=dict)  # {"hit@5": 0.95, "mrr@10": 0.85, ...}


def load_suites(path: Path = SUITES_FILE) -> dict[str, Suite]:
    """The suites in ``path``; paths in it are relative to the folder holding ``eval/``."""
    if not path.exists():
        raise EvalError(f"{path}: no suites file (run rag-qa eval from the project folder)")
    root = path.resolve().parent.parent
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return {
            name: Suite(
                name=name,
                questions=root / entry["questions"],
                corpus=root / entry["corpus"],
                index=root / entry["index"],
                description=entry.get("description", ""),
                gate=dict(entry.get("gate", {})),
            )
            for name, entry in data.items()
        }
    except (ValueError, KeyError, TypeError, AttributeError) as err:
        raise EvalError(f"{path}: not a valid suites file ({err})") from err


def pick(suites: dict[str, Suite], names: tuple[str, ...]) -> list[Suite]:
    """The suites named (``all``: every one), in the order given."""
    if "all" in names:
        return list(suites.values())
    unknown = [n for n in names if n not in suites]
    if unknown:
        raise EvalError(f"no suite {unknown[0]!r}; suites are: {', '.join(suites)}")
    return [suites[n] for n in names]


def check_corpus(suite: Suite) -> None:
    if not suite.corpus.is_dir():
        raise EvalError(f"suite {suite.name}: its corpus {suite.corpus} is not a folder")


def gate_failures(suite: Suite, summary: dict) -> list[str]:
    """What falls short of the suite's gate in its main mode's summary."""
    out = []
    for metric, floor in suite.gate.items():
        if metric.startswith("max_"):
            value, ok = summary[metric[4:]], summary[metric[4:]] <= floor
        else:
            value, ok = summary[metric], summary[metric] >= floor
        if not ok:
            out.append(f"{suite.name}: {metric} {value:.3f} (gate {floor})")
    return out


def run_suite(
    suite: Suite, settings: Settings, embedder, modes: list[str], k: int, out_dir: Path
) -> dict:
    """Refresh the suite's index (incremental), run its questions in each mode, write the
    results under ``out_dir/<suite>/``; returns the report (rows and summary)."""
    check_corpus(suite)
    local = settings.replace(corpus_dir=suite.corpus, index_dir=suite.index)
    run_build(local, lambda: embedder, progress=False)
    engine = Engine(local, embedder)
    try:
        questions = E.load_questions(suite.questions)
        report = E.evaluate(engine, questions, modes, k=k)
    finally:
        engine.close()
    calibration = E.calibrate([r for r in report["rows"] if r["mode"] == modes[-1]])
    extra = {"suite": suite.name, "calibration": calibration, "k": k}
    report["paths"] = E.write_results(report, out_dir / suite.name, extra)
    report["calibration"] = calibration
    report["questions"] = len(questions)
    return report


def fit_together(reports: dict[str, dict], mode: str) -> dict:
    """The abstention thresholds fitted on every suite's rows of ``mode`` at once."""
    rows = [
        {**r, "suite": name}
        for name, report in reports.items()
        for r in report["rows"]
        if r["mode"] == mode
    ]
    return E.calibrate(rows)  # the false-abstention budget holds in each suite
