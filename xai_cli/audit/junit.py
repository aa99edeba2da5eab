"""JUnit XML for CI test-report viewers: one test suite per job, one test case per rule.

``FAIL`` becomes ``<failure>``, ``ERROR`` ``<error>``, ``SKIP`` ``<skipped>``; ``PASS`` and ``WARN``
are passing test cases (JUnit has no warning state), a ``WARN`` carrying its message in
``<system-out>``. Built with :mod:`xml.etree.ElementTree`, which escapes text and attributes;
characters XML 1.0 cannot hold at all (control characters) are replaced first.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Any

_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _clean(text: object) -> str:
    """Text XML 1.0 can hold: control characters become U+FFFD."""
    return _ILLEGAL.sub("\ufffd", str(text))


@dataclass(frozen=True)
class Case:
    """One test case: a rule's status on one job."""

    name: str
    status: str
    message: str
    text: str = ""


@dataclass(frozen=True)
class Suite:
    """One test suite: a job's rules (or a diff's methods), with properties."""

    name: str
    cases: tuple[Case, ...]
    properties: tuple[tuple[str, str], ...] = ()
    timestamp: str | None = None


def _tally(cases: tuple[Case, ...] | list[Case]) -> dict[str, str]:
    statuses = [c.status for c in cases]
    return {
        "tests": str(len(statuses)),
        "failures": str(statuses.count("FAIL")),
        "errors": str(statuses.count("ERROR")),
        "skipped": str(statuses.count("SKIP")),
    }


def render(suites: list[Suite], name: str = "xai audit") -> str:
    """The JUnit XML document."""
    every = [c for s in suites for c in s.cases]
    root = ET.Element("testsuites", {"name": name, **_tally(every), "time": "0"})
    for suite in suites:
        attrs = {"name": _clean(suite.name), **_tally(suite.cases), "time": "0"}
        if suite.timestamp:
            attrs["timestamp"] = suite.timestamp
        node = ET.SubElement(root, "testsuite", attrs)
        if suite.properties:
            props = ET.SubElement(node, "properties")
            for key, value in suite.properties:
                ET.SubElement(props, "property", {"name": _clean(key), "value": _clean(value)})
        for case in suite.cases:
            tc = ET.SubElement(
                node,
                "testcase",
                {"classname": _clean(suite.name), "name": _clean(case.name), "time": "0"},
            )
            tag = {"FAIL": "failure", "ERROR": "error", "SKIP": "skipped"}.get(case.status)
            if tag:
                child = ET.SubElement(tc, tag, {"message": _clean(case.message)})
                if tag != "skipped":
                    child.set("type", case.status)
                    child.text = _clean(case.text or case.message)
            if case.status == "WARN":
                ET.SubElement(tc, "system-out").text = _clean(f"WARN: {case.message}")
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, "unicode") + "\n"


def _detail_text(result: dict[str, Any]) -> str:
    return result["message"] + "\n\ndetails:\n" + json.dumps(result["details"], indent=2)


def audit_suites(doc: dict[str, Any]) -> list[Suite]:
    """One suite per job of an audit document."""
    suites = []
    for job in doc["jobs"]:
        cases = tuple(
            Case(
                name=f"{r['rule']} ({r['type']})",
                status=r["status"],
                message=r["message"],
                text=_detail_text(r) if r["status"] in ("FAIL", "ERROR") else "",
            )
            for r in job["results"]
        )
        for r in job["results"]:  # a validation rule: one more case per check it judged
            if r["type"] == "validation":
                cases += check_cases(r["details"].get("checks", []), f"{r['rule']}: ")
        props = [("severity:" + r["rule"], r["severity"]) for r in job["results"]]
        props += [(k, str(job[k])) for k in ("model_path", "model_sha256", "data_path") if job[k]]
        suites.append(Suite(f"xai-audit.{job['name']}", cases, tuple(props), doc["started_at"]))
    return suites


def diff_suites(doc: dict[str, Any]) -> list[Suite]:
    """One suite for an ``xai diff`` document, one test case per method."""
    cases = tuple(
        Case(r["rule"], r["status"], r["message"], r["message"] if r["status"] != "PASS" else "")
        for r in doc["results"]
    )
    props = (("base", doc["base"]["path"]), ("new", doc["new"]["path"]))
    return [Suite("xai-diff", cases, props)]


def check_cases(checks: Any, prefix: str = "") -> tuple[Case, ...]:
    """One test case per scorecard check (typed ``CheckEntry`` objects or their dicts)."""
    cases = []
    for c in checks:
        get = c.get if isinstance(c, dict) else lambda k, c=c: getattr(c, k)
        test = f" [{get('test')}]" if get("test") else ""
        status = get("status")
        cases.append(
            Case(
                name=f"{prefix}{get('method')} {get('check')}{test}",
                status=status,
                message=get("reason"),
                text=get("reason") if status == "FAIL" else "",
            )
        )
    return tuple(cases)


def validation_suites(section: Any, name: str) -> list[Suite]:
    """One suite for an ``xai validate`` scorecard, one test case per check."""
    props = (("status", section.status), ("rows", str(section.rows)))
    return [Suite(f"xai-validate.{name}", check_cases(section.checks), props)]
