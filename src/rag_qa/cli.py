"""The ``rag-qa`` command line: a thin layer that turns library errors into one clean line."""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import click

from rag_qa import __version__
from rag_qa.settings import DEFAULT_MODEL, Settings

EXAMPLE_QUESTION = "What did Ofsted say about management oversight in 2018?"


@dataclass(frozen=True)
class IndexHooks:
    """What a program that runs this command line can hand ``rag-qa index``, as click's
    context object: ``main(obj=IndexHooks(on_stage=f))`` has the build call ``f`` at each of
    its stages (``rag_qa.index.build.STAGES``). tests/fake_rag_qa.py pauses builds this way."""

    on_stage: Callable[[str], None] | None = None


def common_options(func):
    @click.option(
        "--corpus",
        "corpus_dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=Path("corpus"),
        show_default=True,
        help="Folder of PDF/text documents.",
    )
    @click.option(
        "--index",
        "index_dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=Path("index"),
        show_default=True,
        help="Folder holding the index.",
    )
    @click.option(
        "--model",
        default=DEFAULT_MODEL,
        show_default=True,
        help="Embedding model: a known packaged model or a local directory.",
    )
    @click.option(
        "--council",
        default=None,
        metavar="NAME",
        help="The council a question means when it names none, e.g. Slough.",
    )
    @click.option(
        "--set",
        "assignments",
        multiple=True,
        metavar="NAME=VALUE",
        help="Change a setting, e.g. --set answer.min_coverage=0.12 (repeatable; see "
        "rag_qa/settings.py for every name).",
    )
    @functools.wraps(func)
    def wrapper(
        *args,
        corpus_dir: Path,
        index_dir: Path,
        model: str,
        council: str | None,
        assignments: tuple[str, ...],
        **kwargs,
    ):
        from rag_qa.settings import SettingsError, parse_assignment

        try:
            changes = dict(parse_assignment(a) for a in assignments)
            settings = Settings.make(
                corpus_dir=corpus_dir, index_dir=index_dir, model=model, council=council
            ).replace(**changes)
        except SettingsError as err:
            raise click.UsageError(str(err)) from err
        return func(*args, settings=settings, **kwargs)

    return wrapper


def friendly_errors(func):
    """Known failures become one line on stderr and exit code 1, never a traceback."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        from rag_qa.embed.model import ModelError
        from rag_qa.evaluation.suite import EvalError
        from rag_qa.index.build import BuildError
        from rag_qa.index.generations import BuildLocked, IndexError_
        from rag_qa.ingest.loaders import LoadError
        from rag_qa.settings import SettingsError

        known = (BuildError, BuildLocked, IndexError_, ModelError, LoadError, EvalError)
        try:
            return func(*args, **kwargs)
        except (*known, SettingsError) as err:
            raise click.ClickException(str(err)) from err

    return wrapper


def embedder_factory(settings: Settings):
    from rag_qa.embed.model import load_embedder

    return lambda: load_embedder(
        settings.embed.model, settings.embed.precision, settings.embed.query_encoder
    )


def ray_embedder_factory(
    settings: Settings, address: str | None, actors: int | None, stack: contextlib.ExitStack
):
    """Embedding with Ray Data; the embedder is closed (Ray shut down) when ``stack`` is."""
    from rag_qa.embed.distributed import RayEmbedder, RayOptions

    options = RayOptions(address=address, actors=actors)
    return lambda: stack.enter_context(
        RayEmbedder(settings.embed.model, settings.embed.precision, options)
    )


class WarningsToStderr(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        click.echo(f"warning: {record.getMessage()}", err=True)


@click.group()
@click.version_option(__version__, prog_name="rag-qa")
@click.option("-v", "--verbose", is_flag=True, help="Show debug logging.")
def main(verbose: bool) -> None:
    """Question answering over inspection reports, with cited passages."""
    root = logging.getLogger("rag_qa")
    root.handlers[:] = [WarningsToStderr()]
    root.setLevel(logging.DEBUG if verbose else logging.WARNING)
    root.propagate = False


@main.command()
@common_options
@click.option(
    "--full",
    is_flag=True,
    help="Rebuild everything from scratch: every passage cut and embedded again (files parsed "
    "before come from INDEX/parse-cache; add --reparse to parse them again).",
)
@click.option(
    "--reparse",
    is_flag=True,
    help="Rebuild with every file parsed again, not taken from INDEX/parse-cache (after "
    "upgrading pypdf, say); embeddings of unchanged passages are still reused unless --full.",
)
@click.option("--wait", is_flag=True, help="Wait for a build already running instead of stopping.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON object.")
@click.option(
    "--ray",
    "use_ray",
    is_flag=True,
    help="Embed with Ray Data: on this machine, or the cluster --ray-address names "
    "(needs pip install 'rag-qa[ray]').",
)
@click.option(
    "--ray-address",
    default=None,
    metavar="ADDRESS",
    help="Ray cluster for --ray, run from one of its nodes: 'auto' or HOST:6379 "
    "(default: a Ray of its own on this machine).",
)
@click.option(
    "--ray-actors",
    type=click.IntRange(1),
    default=None,
    metavar="N",
    help="Model copies for --ray. Default: as many as fit the CPUs Ray sees with the torch "
    "threads of a build here (bit-identical vectors); more share the CPUs with fewer threads "
    "each (faster; bf16 vectors of short batches may differ by ~1e-3).",
)
@friendly_errors
def index(
    settings: Settings,
    full: bool,
    reparse: bool,
    wait: bool,
    as_json: bool,
    use_ray: bool,
    ray_address: str | None,
    ray_actors: int | None,
) -> None:
    """Build or refresh the index from the corpus folder (only what changed)."""
    from rag_qa.index.build import run_build

    hooks = click.get_current_context().find_object(IndexHooks) or IndexHooks()
    if not use_ray and (ray_address or ray_actors):
        raise click.UsageError("--ray-address and --ray-actors only apply with --ray: add --ray")
    with contextlib.ExitStack() as stack:
        factory = embedder_factory(settings)
        if use_ray:
            factory = ray_embedder_factory(settings, ray_address, ray_actors, stack)
        summary = run_build(
            settings, factory, full=full, wait=wait, reparse=reparse, on_stage=hooks.on_stage
        )
    if as_json:
        click.echo(json.dumps(summary.to_json()))
        return
    if summary.note:
        click.echo(summary.note)
    click.echo(
        f"{'Built' if summary.full else 'Updated'} {settings.index_dir} ({summary.generation}): "
        f"{len(summary.added)} added, {len(summary.changed)} changed, "
        f"{len(summary.removed)} removed, {summary.unchanged} unchanged, "
        f"{len(summary.skipped)} skipped; {summary.documents} documents, {summary.chunks} chunks; "
        f"{summary.parse_cached} files from the parse cache, "
        f"{summary.chunks_embedded} chunks embedded in {summary.seconds:.1f}s"
    )
    for label, items in (
        ("added", summary.added),
        ("changed", summary.changed),
        ("removed", summary.removed),
    ):
        for source in items:
            click.echo(f"  {label}: {source}")


def open_engine(settings: Settings):
    """The engine over the live index, with the model ``settings`` name."""
    from rag_qa.engine import Engine

    return Engine.open(settings, embedder_factory(settings))


@main.command()
@common_options
@click.argument("questions", nargs=-1, required=True)
@click.option(
    "-k",
    "k",
    type=click.IntRange(1, 100),
    default=5,
    show_default=True,
    help="Passages per question.",
)
@click.option(
    "--mode",
    type=click.Choice(["hybrid", "bm25", "dense"]),
    default="hybrid",
    show_default=True,
    help="Retrieval mode.",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per question (JSON Lines).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "markdown", "csv"]),
    default="text",
    show_default=True,
    help="markdown: the answer with its passages quoted, to paste; csv: a row per passage.",
)
@click.option(
    "--timeline/--no-timeline",
    default=None,
    help="The topic across one council's reports, in visit order (default: when asked "
    "'how has ... changed?').",
)
@friendly_errors
def ask(
    settings: Settings,
    questions: tuple[str, ...],
    k: int,
    mode: str,
    as_json: bool,
    fmt: str,
    timeline: bool | None,
) -> None:
    """Answer one or more QUESTIONS with ranked, cited passages (a question about judgements
    with a table of the reports' facts)."""
    for question in questions:
        if not question.strip():
            raise click.ClickException(
                "empty question: ask something, e.g. rag-qa ask " + json.dumps(EXAMPLE_QUESTION)
            )
    engine = open_engine(settings)
    for question, turn in zip(
        questions, engine.ask_many(questions, k=k, mode=mode, timeline=timeline), strict=True
    ):
        answer, result = turn.answer, turn.result
        if as_json or fmt != "text":
            click.echo(_exported(turn, as_json, fmt), nl=fmt == "text")
            continue
        click.echo(click.style(f"Q: {question}", bold=True))
        click.echo(f"A: {answer.text}\n")
        if turn.timeline is not None:
            from rag_qa.answer.facts import timeline_text

            click.echo(click.style("Timeline: ", bold=True) + timeline_text(turn.timeline) + "\n")
        for p in result.passages:
            click.echo(
                click.style(f"[{p.rank}] {p.citation}", fg="cyan") + f"  (score {p.score:.3f})"
            )
            where = p.document.source + (f" · {p.chunk.section}" if p.chunk.section else "")
            for source, page in p.also_in:
                where += f"; also in {source}" + (f", p. {page}" if page else "")
            click.echo(f"    {where}")
            click.echo("    " + p.chunk.text.replace("\n", " ")[:600])
            click.echo()


def _exported(turn, as_json: bool, fmt: str) -> str:
    from rag_qa.answer import export

    if as_json:
        return json.dumps(turn.to_json(), ensure_ascii=False)
    return export.turn_markdown(turn) if fmt == "markdown" else export.turn_csv(turn)


@main.command("eval")
@common_options
@click.option(
    "--questions",
    "questions_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("eval/questions.jsonl"),
    show_default=True,
)
@click.option("-k", "k", type=click.IntRange(1, 100), default=10, show_default=True)
@click.option(
    "--mode",
    type=click.Choice(["all", "hybrid", "bm25", "dense"]),
    default="all",
    show_default=True,
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("eval/results"),
    show_default=True,
)
@click.option(
    "--min-hit-at-5", type=float, default=None, help="Fail below this hit@5 (default mode)."
)
@click.option("--min-mrr", type=float, default=None, help="Fail below this MRR@10 (default mode).")
@click.option(
    "--suite",
    "suite_names",
    multiple=True,
    metavar="NAME",
    help="Run a suite of eval/suites.json (repeatable; 'all' for every one): it names its "
    "questions and corpus, its index is refreshed first, and abstention is fitted on all "
    "the suites run together.",
)
@click.option("--gate", is_flag=True, help="With --suite: fail below each suite's own gate.")
@click.option(
    "--show-missed",
    is_flag=True,
    help="List the answer-missed questions of the main mode (a right passage in the top 5 but "
    "no accepted phrase in the answer): id, kind, question, answer given, accepted phrase.",
)
@click.option(
    "--suites",
    "suites_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("eval/suites.json"),
    show_default=True,
    help="The suites file --suite reads.",
)
@click.option(
    "--beir",
    "beir_dir",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    default=None,
    help="Evaluate a BEIR-format dataset instead (nDCG@10, recall@100).",
)
@friendly_errors
def eval_(
    settings: Settings,
    questions_file: Path,
    k: int,
    mode: str,
    out_dir: Path,
    min_hit_at_5: float | None,
    min_mrr: float | None,
    suite_names: tuple[str, ...],
    gate: bool,
    show_missed: bool,
    suites_file: Path,
    beir_dir: Path | None,
) -> None:
    """Measure retrieval on the eval questions (or a BEIR dataset) and write results."""
    from rag_qa.evaluation import suite as E

    modes = ["bm25", "dense", "hybrid"] if mode == "all" else [mode]
    if beir_dir is not None:
        from rag_qa.evaluation.beir_run import run_beir

        report = run_beir(beir_dir, settings, embedder_factory(settings), modes)
        click.echo(f"{'mode':<8}{'nDCG@10':>10}{'recall@100':>12}{'queries':>9}")
        for m, s in report["summary"].items():
            click.echo(f"{m:<8}{s['ndcg@10']:>10.4f}{s['recall@100']:>12.4f}{s['queries']:>9}")
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "beir_summary.json").write_text(json.dumps(report, indent=1))
        return
    if suite_names:
        chosen = (suites_file, suite_names)
        floors = (min_hit_at_5, min_mrr)
        run_suites(settings, chosen, modes, k, out_dir, gate, floors, show_missed)
        return
    questions = E.load_questions(questions_file)
    report = E.evaluate(open_engine(settings), questions, modes, k=k)
    calibration = E.calibrate([r for r in report["rows"] if r["mode"] == modes[-1]])
    paths = E.write_results(
        report, out_dir, {"calibration": calibration, "questions_file": str(questions_file), "k": k}
    )
    click.echo(E.format_table(report["summary"]))
    click.echo("\n" + E.describe_calibration(len(questions), settings.answer, calibration))
    click.echo("\n" + E.format_breakdown(report, show_missed))
    click.echo(f"Results in {paths['summary'].parent}/")
    failures = E.below_thresholds(report["summary"], min_hit_at_5, min_mrr)
    if failures:
        raise click.ClickException(failures)


def run_suites(settings, chosen, modes, k, out_dir, gate, floors, show_missed=False) -> None:
    """``rag-qa eval --suite``: each suite's table, then the thresholds fitted on them all."""
    from rag_qa.evaluation import suite as E
    from rag_qa.evaluation import suites as S

    suites_file, names = chosen
    chosen = S.pick(S.load_suites(suites_file), names)
    embedder = embedder_factory(settings)()
    reports, failures = {}, []
    for suite in chosen:
        report = S.run_suite(suite, settings, embedder, modes, k, out_dir)
        reports[suite.name] = report
        click.echo(f"\n{suite.name}: {suite.description}")
        click.echo(E.format_table(report["summary"]))
        click.echo(
            E.describe_calibration(report["questions"], settings.answer, report["calibration"])
        )
        click.echo(E.format_breakdown(report, show_missed))
        main = report["summary"][E.main_mode(modes)]
        failures += S.gate_failures(suite, main) if gate else []
        below = E.below_thresholds(report["summary"], *floors)
        failures += [f"{suite.name}: {below}"] if below else []
    if len(reports) > 1:
        fit = S.fit_together(reports, modes[-1])
        total = sum(r["questions"] for r in reports.values())
        click.echo("\nAll suites together: " + E.describe_calibration(total, settings.answer, fit))
    click.echo(f"Results in {out_dir}/<suite>/")
    if failures:
        raise click.ClickException("; ".join(failures))


@main.command()
@common_options
@click.option("--json", "as_json", is_flag=True, help="JSON Lines: one object per document.")
@click.option("--csv", "as_csv", is_flag=True, help="A spreadsheet: one row per document.")
@friendly_errors
def docs(settings: Settings, as_json: bool, as_csv: bool) -> None:
    """List the indexed documents with their facts (council, kind, dates, lead inspector,
    judgements) and where each was read. Only data goes to stdout; the summary to stderr."""
    from rag_qa.index.loaded import open_index

    if as_json and as_csv:
        raise click.UsageError("choose one of --json and --csv")
    index_ = open_index(settings)  # no model: listing is instant
    documents = sorted(
        index_.documents.values(), key=lambda d: (d.date or d.visit_end or "", d.source)
    )
    if as_csv:
        from rag_qa.answer.export import facts_csv

        click.echo(facts_csv([d.report_facts() for d in documents]), nl=False)
    for doc in documents if not as_csv else ():
        entry = index_.manifest["files"].get(doc.source, {})
        if as_json:
            click.echo(json.dumps(_doc_json(doc, entry), ensure_ascii=False))
        else:
            _echo_doc(doc, entry)
    built = index_.manifest.get("built_at")
    click.echo(f"{len(documents)} documents, built {built}", err=as_json or as_csv)


def _doc_json(doc, entry: dict) -> dict:
    return {
        "doc_id": doc.doc_id,
        **doc.report_facts(),
        "pages": entry.get("pages"),
        "chunks": entry.get("chunks"),
        "dates": [m.__dict__ for m in doc.dates],
        "facts": [f.__dict__ for f in doc.facts],
    }


def _echo_doc(doc, entry: dict) -> None:
    click.echo(click.style(doc.label, bold=True) + f"  [{doc.kind}]")
    click.echo(
        f"  source: {doc.source}  ({entry.get('pages')} pages, {entry.get('chunks')} chunks)"
    )
    click.echo(
        f"  date: {doc.date or '-'}   visit: {doc.visit_start or '-'} to {doc.visit_end or '-'}"
    )
    for m in doc.dates:
        where = f" p.{m.page}" if m.page else ""
        click.echo(f'    {m.role:<12} {m.date}  by {m.rule}{where}: "{m.evidence}"')
    for f in doc.facts:
        where = f" p.{f.page}" if f.page else ""
        click.echo(f'    {f.name:<12} {f.value}  by {f.rule}{where}: "{f.evidence[:100]}"')


@main.command()
@common_options
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--port", type=int, default=7860, show_default=True)
@click.option(
    "--allow-upload",
    is_flag=True,
    help="Let users add PDF/text files to the corpus (off: the upload route answers 403).",
)
@click.option(
    "--auth",
    default=None,
    metavar="FILE|env:VAR|USER:PASSWORD",
    help="Require a login: a FILE of user:password lines, or env:VAR (the environment "
    "variable VAR holds them). A literal user:password still works but is visible to every "
    "local user in the process list (a warning is printed).",
)
@click.option(
    "--feedback",
    "feedback_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("eval/feedback.jsonl"),
    show_default=True,
    help="Where thumbs up/down are saved.",
)
@click.option(
    "--concurrency",
    type=click.IntRange(1, 64),
    default=4,
    show_default=True,
    help="Questions answered at once; more wait in the queue.",
)
@friendly_errors
def serve(
    settings: Settings,
    host: str,
    port: int,
    allow_upload: bool,
    auth: str | None,
    feedback_file: Path,
    concurrency: int,
) -> None:
    """Start the web chat (Gradio) on HOST:PORT."""
    from rag_qa.web.app import serve as run_app

    run_app(
        settings,
        host=host,
        port=port,
        allow_upload=allow_upload,
        auth=auth,
        feedback_file=feedback_file,
        concurrency=concurrency,
        embedder_factory=embedder_factory(settings),
    )


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
