"""Dependency audit: known vulnerabilities of every distribution installed in this environment.

pip-audit cannot run here: it asks PyPI's per-version JSON (``/pypi/<name>/<version>/json``,
404 from this network) or api.osv.dev (unreachable). What is reachable is PyPI's per-project
JSON (``/pypi/<name>/json``), whose ``vulnerabilities`` list holds the advisories (OSV: id,
aliases, fixed_in, link, withdrawn) that affect the project's *latest* release. So, for each
installed distribution (``importlib.metadata``, deduplicated by normalised name):

- installed == latest: its advisories are that list, less withdrawn ones;
- installed != latest: "behind latest x.y; advisories for the installed version cannot be
  fetched here", and an advisory of the latest's list still counts against the installed
  version when the installed version is below every ``fixed_in`` (or none is given: no fix);
- a local install (PEP 610 ``direct_url.json`` with a ``file://`` URL, like this project's
  editable install) or a 404 from PyPI: "not on PyPI", not fetched;
- the installed version yanked on PyPI is reported too (from the same JSON's ``releases``).

Prints a table and "N packages audited: A with known vulnerabilities, B behind latest, C not on
PyPI", writes bench/results/audit.json. Exit 1 if a known vulnerability affects an installed
version; 0 otherwise; when PyPI cannot be reached at all, one line saying so and exit 2, or 0
with --allow-offline (CI). Projects that could not be fetched for another reason (timeouts)
make the exit 2 unless --allow-offline. Standard library only; 8 fetches at a time.

    .venv/bin/python tools/audit_deps.py              # or: make audit
    .venv/bin/python tools/audit_deps.py --allow-offline --timeout 20
"""

from __future__ import annotations

import argparse
import importlib.metadata as metadata
import json
import re
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PYPI = "https://pypi.org/pypi/{name}/json"
USER_AGENT = "rag-qa-audit-deps/1 (+urllib)"


class NotOnPyPI(Exception):
    """PyPI has no such project (404)."""


class FetchFailed(Exception):
    """The project's JSON could not be fetched (no network, a timeout, an HTTP error, not JSON)."""


# ---------------------------------------------------------------------------------------------
# Versions (PEP 440, enough to order releases: epoch, release, pre, post, dev; local ignored)

_VERSION = re.compile(
    r"""^\s*v?
    (?:(?P<epoch>\d+)!)?
    (?P<release>\d+(?:\.\d+)*)
    (?P<pre>[-_.]?(?P<pre_l>alpha|a|beta|b|preview|pre|c|rc)[-_.]?(?P<pre_n>\d+)?)?
    (?P<post>-(?P<post_n1>\d+)|[-_.]?(?:post|rev|r)[-_.]?(?P<post_n2>\d+)?)?
    (?P<dev>[-_.]?dev[-_.]?(?P<dev_n>\d+)?)?
    (?:\+(?P<local>[a-z0-9]+(?:[-_.][a-z0-9]+)*))?
    \s*$""",
    re.VERBOSE | re.IGNORECASE,
)
_PRE = {"a": 0, "alpha": 0, "b": 1, "beta": 1, "c": 2, "rc": 2, "pre": 2, "preview": 2}
_INF = float("inf")


def version_key(text: str) -> tuple | None:
    """A sort key for a PEP 440 version (the local label ignored), or None if it is not one.
    Order: X.devN < X.aN.devM < X.aN < X < X.postN.devM < X.postN."""
    m = _VERSION.match(text or "")
    if not m:
        return None
    release = tuple(int(x) for x in m["release"].split("."))
    while len(release) > 1 and release[-1] == 0:
        release = release[:-1]
    post = int(m["post_n1"] or m["post_n2"] or 0) if m["post"] else None
    dev = int(m["dev_n"] or 0) if m["dev"] else None
    if m["pre"]:
        pre: tuple = (_PRE[m["pre_l"].lower()], int(m["pre_n"] or 0))
    elif post is None and dev is not None:
        pre = (-_INF,)  # X.devN comes before X's pre-releases
    else:
        pre = (_INF,)
    return (
        int(m["epoch"] or 0),
        release,
        pre,
        (-_INF,) if post is None else (post,),
        (_INF,) if dev is None else (dev,),
    )


def public_version(text: str) -> str:
    """The version without its local label ("2.13.0+cpu" -> "2.13.0")."""
    return text.split("+", 1)[0].strip()


def compare(a: str, b: str) -> int | None:
    """-1, 0 or 1 as version ``a`` is below, equal to or above ``b``; None if either is not a
    PEP 440 version."""
    ka, kb = version_key(a), version_key(b)
    if ka is None or kb is None:
        return None
    return (ka > kb) - (ka < kb)


# ---------------------------------------------------------------------------------------------
# What is installed


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True)
class Installed:
    name: str
    version: str
    local: str | None = None  # the file:// URL of a local (not PyPI) install


def installed_distributions(dists: Iterable | None = None) -> list[Installed]:
    """Every distribution importlib.metadata sees, once per normalised name (the first found,
    as ``import`` would), sorted by name."""
    seen: dict[str, Installed] = {}
    for dist in metadata.distributions() if dists is None else dists:
        name = dist.metadata["Name"]
        if not name or normalise(name) in seen:
            continue
        local = None
        try:
            direct = json.loads(dist.read_text("direct_url.json") or "null")
        except (ValueError, OSError):
            direct = None
        if isinstance(direct, dict) and str(direct.get("url", "")).startswith("file:"):
            local = direct["url"]
        seen[normalise(name)] = Installed(name, dist.version, local)
    return sorted(seen.values(), key=lambda d: normalise(d.name))


# ---------------------------------------------------------------------------------------------
# The decision for one package


@dataclass
class Finding:
    name: str
    installed: str
    latest: str | None = None
    # "current", "behind", "ahead", "not on PyPI", "local", "unchecked"
    status: str = "unchecked"
    vulnerabilities: list[dict] = field(default_factory=list)  # affecting the installed one
    note: str = ""
    yanked: str | None = None  # the reason, when the installed version is yanked

    @property
    def vulnerable(self) -> bool:
        return bool(self.vulnerabilities)


def _advisory(v: dict) -> dict:
    return {
        "id": v.get("id"),
        "aliases": list(v.get("aliases") or []),
        "fixed_in": list(v.get("fixed_in") or []),
        "link": v.get("link"),
        "summary": (v.get("summary") or v.get("details") or "")[:200],
    }


def below_every_fix(installed: str, fixed_in: list[str]) -> bool:
    """True when ``installed`` is below every fixed version (or no fix is known): an advisory
    of a later release then still applies to it."""
    fixes = [f for f in fixed_in if version_key(f) is not None]
    if not fixes:
        return True
    return all(compare(installed, f) == -1 for f in fixes)


def assess(dist: Installed, project: dict) -> Finding:
    """What the project's PyPI JSON says about the installed version of ``dist``."""
    info = project.get("info") or {}
    latest = info.get("version")
    mine = public_version(dist.version)
    finding = Finding(dist.name, dist.version, latest)
    advisories = [v for v in project.get("vulnerabilities") or [] if not v.get("withdrawn")]
    files = (project.get("releases") or {}).get(mine)
    if files and all(f.get("yanked") for f in files):
        finding.yanked = next((f.get("yanked_reason") for f in files if f.get("yanked_reason")), "")
    order = compare(mine, latest) if latest else None
    if order == 0 or (order is None and latest == mine):
        finding.status = "current"
        finding.vulnerabilities = [_advisory(v) for v in advisories]
        return finding
    finding.status = "ahead" if order == 1 else "behind"
    if order == 1:
        finding.note = f"newer than the latest release {latest}"
    elif order is None:
        finding.note = f"latest is {latest}; the versions cannot be compared"
    else:
        finding.note = (
            f"behind latest {latest}; advisories for the installed version cannot be fetched here"
        )
    finding.vulnerabilities = [
        _advisory(v) for v in advisories if below_every_fix(mine, list(v.get("fixed_in") or []))
    ]
    return finding


# ---------------------------------------------------------------------------------------------
# Fetching


def fetch_project(name: str, timeout: float = 20.0) -> dict:
    """PyPI's JSON for project ``name``. Raises NotOnPyPI on 404, FetchFailed otherwise."""
    url = PYPI.format(name=normalise(name))
    request = urllib.request.Request(
        url, headers={"User-Agent": USER_AGENT, "Accept": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as err:
        if err.code == 404:
            raise NotOnPyPI(name) from err
        raise FetchFailed(f"HTTP {err.code}") from err
    except urllib.error.URLError as err:
        raise FetchFailed(f"{type(err.reason).__name__}: {err.reason}") from err
    except (TimeoutError, OSError) as err:
        raise FetchFailed(f"{type(err).__name__}: {err}") from err
    except ValueError as err:
        raise FetchFailed(f"not JSON: {err}") from err


def audit_one(dist: Installed, fetch: Callable[[str], dict]) -> Finding:
    """The finding for ``dist``; ``fetch(name)`` returns PyPI's project JSON or raises
    NotOnPyPI / FetchFailed."""
    if dist.local:
        return Finding(dist.name, dist.version, status="local", note=f"installed from {dist.local}")
    try:
        project = fetch(dist.name)
    except NotOnPyPI:
        return Finding(dist.name, dist.version, status="not on PyPI")
    except FetchFailed as err:
        return Finding(dist.name, dist.version, status="unchecked", note=str(err))
    return assess(dist, project)


@dataclass
class Report:
    findings: list[Finding]
    offline: bool  # nothing could be fetched: PyPI is unreachable

    @property
    def counts(self) -> dict:
        f = self.findings
        return {
            "audited": len(f),
            "vulnerable": sum(x.vulnerable for x in f),
            "behind": sum(x.status == "behind" for x in f),
            "not_on_pypi": sum(x.status in ("not on PyPI", "local") for x in f),
            "unchecked": sum(x.status == "unchecked" for x in f),
            "yanked": sum(x.yanked is not None for x in f),
        }

    def summary(self) -> str:
        c = self.counts
        line = (
            f"{c['audited']} packages audited: {c['vulnerable']} with known vulnerabilities, "
            f"{c['behind']} behind latest, {c['not_on_pypi']} not on PyPI"
        )
        if c["unchecked"]:
            line += f", {c['unchecked']} could not be fetched"
        if c["yanked"]:
            line += f", {c['yanked']} installed version(s) yanked"
        return line

    def exit_code(self, allow_offline: bool) -> int:
        if self.offline:
            return 0 if allow_offline else 2
        if any(f.vulnerable for f in self.findings):
            return 1
        if self.counts["unchecked"] and not allow_offline:
            return 2
        return 0


def audit(dists: list[Installed], fetch: Callable[[str], dict], threads: int = 8) -> Report:
    """Every distribution assessed, ``threads`` fetches at a time. The report is ``offline``
    when not one project could be fetched (and there was one to fetch)."""
    with ThreadPoolExecutor(max(1, threads)) as pool:
        findings = list(pool.map(lambda d: audit_one(d, fetch), dists))
    remote = [f for f in findings if f.status != "local"]
    return Report(findings, offline=bool(remote) and all(f.status == "unchecked" for f in remote))


# ---------------------------------------------------------------------------------------------
# Output


def table(findings: list[Finding]) -> str:
    rows = [("package", "installed", "latest", "status", "advisories / note")]
    for f in findings:
        ids = ", ".join(
            f"{v['id']} (fixed in {', '.join(v['fixed_in']) or 'no release yet'})"
            for v in f.vulnerabilities
        )
        extra = "; ".join(
            x
            for x in (
                ids,
                f.note,
                f"yanked: {f.yanked}" if f.yanked is not None else "",
            )
            if x
        )
        status = "VULNERABLE" if f.vulnerable else f.status
        rows.append((f.name, f.installed, f.latest or "-", status, extra))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(r[:4], widths, strict=True)) + "  " + r[4]
        for r in rows
    ).rstrip()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--allow-offline", action="store_true", help="exit 0 when PyPI is unreachable"
    )
    parser.add_argument("--timeout", type=float, default=20.0, help="seconds per request")
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "audit.json")
    args = parser.parse_args(argv)

    dists = installed_distributions()
    report = audit(dists, lambda name: fetch_project(name, args.timeout), args.threads)
    code = report.exit_code(args.allow_offline)
    if report.offline:
        first = next((f.note for f in report.findings if f.status == "unchecked"), "")
        print(
            f"audit_deps: PyPI (pypi.org) cannot be reached ({first}); "
            f"{len(dists)} packages not audited"
            + ("; --allow-offline: not a failure" if args.allow_offline else "")
        )
        return code
    print(table(report.findings))
    print(report.summary())
    if report.counts["behind"]:
        print(
            "Packages behind latest were checked only against the advisories PyPI lists for "
            "the latest release; upgrade them (or audit where osv.dev is reachable) to be sure."
        )
    payload = {
        "generated": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": sys.version.split()[0],
        "source": PYPI.format(name="<name>") + " (vulnerabilities of the latest release)",
        "counts": report.counts,
        "summary": report.summary(),
        "exit_code": code,
        "packages": [asdict(f) for f in report.findings],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(payload, indent=1))
    print(f"results: {args.out}")
    return code


if __name__ == "__main__":
    sys.exit(main())
