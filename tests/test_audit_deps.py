"""tools/audit_deps.py: the decisions, with a fake fetch (never the network)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).parent.parent
_spec = importlib.util.spec_from_file_location("audit_deps", REPO / "tools" / "audit_deps.py")
audit_deps = importlib.util.module_from_spec(_spec)
sys.modules["audit_deps"] = audit_deps  # dataclasses look their module up by name
_spec.loader.exec_module(audit_deps)

Installed = audit_deps.Installed


def advisory(id_, fixed_in=(), withdrawn=None):
    return {
        "id": id_,
        "aliases": [f"CVE-{id_}"],
        "fixed_in": list(fixed_in),
        "link": f"https://osv.dev/vulnerability/{id_}",
        "details": "details",
        "summary": None,
        "withdrawn": withdrawn,
        "source": "osv",
    }


def project(latest, vulnerabilities=(), releases=None):
    files = releases or {latest: [{"yanked": False}]}
    return {
        "info": {"version": latest},
        "releases": files,
        "vulnerabilities": list(vulnerabilities),
    }


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("1.0", "1.0.0", 0),
        ("2.13.0+cpu", "2.13.0", 0),
        ("1.0.dev1", "1.0a1", -1),
        ("1.0a1", "1.0rc1", -1),
        ("1.0rc1", "1.0", -1),
        ("1.0", "1.0.post1", -1),
        ("1.10", "1.9", 1),
        ("1!0.1", "9.9", 1),
        ("2026.10.18", "2026.9.1", 1),
        ("not-a-version", "1.0", None),
    ],
)
def test_versions_are_ordered_by_pep_440(a, b, expected):
    assert audit_deps.compare(a, b) == expected


def test_latest_installed_takes_the_live_advisories_but_not_withdrawn_ones():
    data = project("2.0", [advisory("A", ["2.1"]), advisory("B", withdrawn="2026-01-01T00:00:00")])
    finding = audit_deps.assess(Installed("pkg", "2.0"), data)
    assert finding.status == "current" and finding.vulnerable
    assert [v["id"] for v in finding.vulnerabilities] == ["A"]
    assert finding.vulnerabilities[0]["fixed_in"] == ["2.1"]
    assert finding.vulnerabilities[0]["aliases"] == ["CVE-A"]


def test_local_version_label_counts_as_the_release():
    finding = audit_deps.assess(Installed("torch", "2.13.0+cpu"), project("2.13.0"))
    assert finding.status == "current" and not finding.vulnerable


def test_behind_latest_is_said_and_only_unfixed_advisories_count():
    data = project(
        "3.0",
        [
            advisory("FIXED-LATER", ["3.1"]),  # installed 2.5 is below every fix: counts
            advisory("BRANCH-FIX", ["2.4", "3.1"]),  # fixed on 2.x at 2.4: 2.5 is safe
            advisory("NO-FIX"),  # no release fixes it yet: counts
        ],
    )
    finding = audit_deps.assess(Installed("pkg", "2.5"), data)
    assert finding.status == "behind"
    assert finding.note == (
        "behind latest 3.0; advisories for the installed version cannot be fetched here"
    )
    assert [v["id"] for v in finding.vulnerabilities] == ["FIXED-LATER", "NO-FIX"]


def test_behind_latest_without_advisories_is_not_vulnerable():
    finding = audit_deps.assess(Installed("pkg", "1.0"), project("1.1"))
    assert finding.status == "behind" and not finding.vulnerable


def test_yanked_installed_version_is_reported():
    releases = {"1.0": [{"yanked": True, "yanked_reason": "broken wheel"}], "1.1": [{}]}
    finding = audit_deps.assess(Installed("pkg", "1.0"), project("1.1", releases=releases))
    assert finding.yanked == "broken wheel"


def fake_fetch(projects):
    def fetch(name):
        if name not in projects:
            raise audit_deps.NotOnPyPI(name)
        value = projects[name]
        if isinstance(value, Exception):
            raise value
        return value

    return fetch


def test_report_counts_summary_and_exit_codes():
    dists = [
        Installed("safe", "1.0"),
        Installed("old", "1.0"),
        Installed("bad", "2.0"),
        Installed("private", "0.1"),
        Installed("rag-qa", "0.1.0", local="file:///work/main"),
    ]
    projects = {
        "safe": project("1.0"),
        "old": project("1.2"),
        "bad": project("2.0", [advisory("X", ["2.0.1"])]),
        "rag-qa": project("9.9", [advisory("SOMEONE-ELSES")]),  # never fetched: local
    }
    report = audit_deps.audit(dists, fake_fetch(projects), threads=2)
    statuses = {f.name: f.status for f in report.findings}
    assert statuses == {
        "safe": "current",
        "old": "behind",
        "bad": "current",
        "private": "not on PyPI",
        "rag-qa": "local",
    }
    assert report.summary() == (
        "5 packages audited: 1 with known vulnerabilities, 1 behind latest, 2 not on PyPI"
    )
    assert not report.offline
    assert report.exit_code(allow_offline=False) == 1
    assert report.exit_code(allow_offline=True) == 1  # a vulnerability is never excused
    table = audit_deps.table(report.findings)
    assert "VULNERABLE" in table and "X (fixed in 2.0.1)" in table

    clean = audit_deps.audit(dists[:2], fake_fetch(projects))
    assert clean.exit_code(allow_offline=False) == 0


def test_unreachable_pypi_is_offline_exit_2_or_0_when_allowed():
    down = audit_deps.FetchFailed("gaierror: [Errno -3] Temporary failure in name resolution")
    dists = [Installed("a", "1"), Installed("b", "2"), Installed("me", "0", local="file:///x")]
    report = audit_deps.audit(dists, fake_fetch({"a": down, "b": down}))
    assert report.offline
    assert report.exit_code(allow_offline=False) == 2
    assert report.exit_code(allow_offline=True) == 0


def test_some_fetches_failing_is_not_offline_but_unchecked():
    timeout = audit_deps.FetchFailed("TimeoutError: timed out")
    dists = [Installed("a", "1"), Installed("b", "2")]
    report = audit_deps.audit(dists, fake_fetch({"a": project("1"), "b": timeout}))
    assert not report.offline and report.counts["unchecked"] == 1
    assert "1 could not be fetched" in report.summary()
    assert report.exit_code(allow_offline=False) == 2
    assert report.exit_code(allow_offline=True) == 0


class FakeDist:
    def __init__(self, name, version, direct_url=None):
        self.metadata = {"Name": name}
        self.version = version
        self._direct = direct_url

    def read_text(self, filename):
        return json.dumps(self._direct) if filename == "direct_url.json" and self._direct else None


def test_installed_distributions_dedupes_and_spots_local_installs():
    dists = [
        FakeDist("Foo_Bar", "1.0"),
        FakeDist("foo-bar", "0.9"),  # shadowed: the first on the path wins
        FakeDist("rag-qa", "0.1.0", {"url": "file:///work/main", "dir_info": {"editable": True}}),
        FakeDist("pulled", "2.0", {"url": "https://example.org/pulled-2.0.tar.gz"}),
    ]
    found = audit_deps.installed_distributions(dists)
    assert [(d.name, d.version, d.local) for d in found] == [
        ("Foo_Bar", "1.0", None),
        ("pulled", "2.0", None),
        ("rag-qa", "0.1.0", "file:///work/main"),
    ]


def test_main_offline_prints_one_line(monkeypatch, capsys, tmp_path):
    def unreachable(name, timeout=20.0):
        raise audit_deps.FetchFailed("gaierror: no network")

    monkeypatch.setattr(audit_deps, "fetch_project", unreachable)
    monkeypatch.setattr(
        audit_deps, "installed_distributions", lambda: [Installed("a", "1"), Installed("b", "1")]
    )
    out = tmp_path / "audit.json"
    assert audit_deps.main(["--allow-offline", "--out", str(out)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1 and "cannot be reached" in lines[0]
    assert audit_deps.main(["--out", str(out)]) == 2


def test_main_writes_json(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(
        audit_deps,
        "fetch_project",
        lambda name, timeout=20.0: project("1.0", [advisory("Z", ["1.1"])]),
    )
    monkeypatch.setattr(audit_deps, "installed_distributions", lambda: [Installed("z", "1.0")])
    out = tmp_path / "audit.json"
    assert audit_deps.main(["--out", str(out)]) == 1
    data = json.loads(out.read_text())
    assert data["counts"]["vulnerable"] == 1 and data["exit_code"] == 1
    assert data["packages"][0]["vulnerabilities"][0]["id"] == "Z"
    assert "1 with known vulnerabilities" in capsys.readouterr().out
