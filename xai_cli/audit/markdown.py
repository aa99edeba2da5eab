"""Markdown for pull requests and GitHub's job summary: the audit and the diff documents.

A headline with the overall status, a table of rules and statuses per job, then collapsed
sections with each probe's numbers (noise-floor margins, stability rank intervals, drift moves).
Every number comes from the document. Every string from it (job, rule, feature and method names,
paths, messages) goes through :func:`md_text`, or :func:`html_text` inside the raw ``<summary>``
HTML, so a config, model or report file cannot put a live image, link or HTML into the summary.
"""

from __future__ import annotations

from typing import Any

from xai_cli.reports.escape import html_text, md_text

ICONS = {"PASS": "✅", "WARN": "⚠️", "FAIL": "❌", "ERROR": "🛑", "SKIP": "⏭️"}
MAX_CHANGES = 10


def _num(value: float | None, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _counts(summary: dict[str, int]) -> str:
    return " · ".join(f"{n} {s}" for s, n in summary.items())


def _status(status: str) -> str:
    return f"{ICONS.get(status, '')} {status}".strip()


def _noise_floor(result: dict[str, Any]) -> list[str]:
    d = result["details"]
    pct = round(100 * d["confidence"])
    lines = [
        "",
        f"<details><summary>{html_text(result['rule'])}: each feature's margin over a random "
        f"probe ({html_text(d['metric'])} drop, {html_text(d['repeats'])} repeats, "
        f"{html_text(d['rows'])} rows)</summary>",
        "",
        f"Held-out permutation importance with a {pct}% bootstrap-and-permute interval; a random "
        "probe column scores 0 on a fixed model, so the margin is the interval's lower end.",
        "",
        f"| feature | importance | {pct}% interval | margin | beats probe "
        f"| in top {md_text(d['top_k'])} of |",
        "|---|---|---|---|---|---|",
    ]
    for f in d["features"]:
        lines.append(
            f"| {md_text(f['feature'])} | {_num(f['importance'], 4)} | [{_num(f['lower'], 4)}, "
            f"{_num(f['upper'], 4)}] | {_num(f['margin'], 4)} | "
            f"{'yes' if f['above_probe'] else '**no**'} | "
            f"{md_text(', '.join(f['in_top_k_of'])) or '–'} |"
        )
    return [*lines, "", "</details>"]


def _stability(result: dict[str, Any]) -> list[str]:
    methods = result["details"]["methods"]
    if not methods:
        return []
    lines = [
        "",
        f"<details><summary>{html_text(result['rule'])}: rank of each feature on all rows "
        "[95% interval over bootstrap resamples]</summary>",
        "",
        "| method | resamples | Spearman p05 | median | min |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| {md_text(m['method'])} | {md_text(m['resamples'])} | {_num(m['spearman_p05'])} | "
        f"{_num(m['spearman_median'])} | {_num(m['spearman_min'])} |"
        + (
            " identical on every resample (does not read the rows) |"
            if m["identical_on_every_resample"]
            else ""
        )
        for m in methods
    ]
    order = [r["feature"] for r in methods[0]["ranks"]]
    ranks = {m["method"]: {r["feature"]: r for r in m["ranks"]} for m in methods}
    lines += ["", "| feature | " + " | ".join(md_text(m["method"]) for m in methods) + " |"]
    lines.append("|---|" + "---|" * len(methods))
    for feature in order:
        cells = [
            md_text(f"{r['rank']} [{r['low']}–{r['high']}]")
            for r in (ranks[m["method"]][feature] for m in methods)
        ]
        lines.append(f"| {md_text(feature)} | " + " | ".join(cells) + " |")
    return [*lines, "", "</details>"]


def _moves(entries: list[dict[str, Any]], k: int, title: str) -> list[str]:
    compared = [e for e in entries if e["status"] == "compared"]
    if not compared:
        return []
    lines = [
        "",
        f"<details><summary>{title}</summary>",
        "",
        f"| method | Spearman | Kendall | top-{k} Jaccard | entering top {k} | leaving top {k} |",
        "|---|---|---|---|---|---|",
    ]
    for e in compared:
        lines.append(
            f"| {md_text(e['method'])} | {_num(e['spearman'])} | {_num(e['kendall'])} | "
            f"{_num(e['topk_jaccard'])} | {md_text(', '.join(e['entering'])) or '–'} | "
            f"{md_text(', '.join(e['leaving'])) or '–'} |"
        )
    for e in compared:
        moved = [c for c in e["rank_changes"] if c["change"] != 0][:MAX_CHANGES]
        if e["features_added"] or e["features_removed"]:
            lines += [
                "",
                f"{md_text(e['method'])}: features added: "
                f"{md_text(', '.join(e['features_added'])) or 'none'}; removed: "
                f"{md_text(', '.join(e['features_removed'])) or 'none'}.",
            ]
        if moved:
            lines += [
                "",
                f"Largest rank changes, {md_text(e['method'])}:",
                "",
                "| feature | rank before | rank after | change |",
                "|---|---|---|---|",
            ]
            lines += [
                f"| {md_text(c['feature'])} | {md_text(c['rank_base'] or '–')} | "
                f"{md_text(c['rank_new'] or '–')} | "
                + ("–" if c["change"] is None else f"{c['change']:+d}")
                + " |"
                for c in moved
            ]
    return [*lines, "", "</details>"]


def _rules_table(results: list[dict[str, Any]]) -> list[str]:
    lines = ["| status | rule | type | severity | result |", "|---|---|---|---|---|"]
    lines += [
        f"| {_status(r['status'])} | {md_text(r['rule'])} | {md_text(r['type'])} | "
        f"{md_text(r['severity'])} | {md_text(r['message'])} |"
        for r in results
    ]
    return lines


def render_audit(doc: dict[str, Any]) -> str:
    """The audit summary for a pull request or ``GITHUB_STEP_SUMMARY``."""
    lines = [
        f"## xai audit: {_status(doc['status'])}",
        "",
        f"Config {md_text(doc['config'])}"
        + (f", baseline {md_text(doc['baseline'])}" if doc["baseline"] else "")
        + f" · {len(doc['jobs'])} job(s) · {_counts(doc['summary'])} · exit code "
        f"{doc['exit_code']}",
    ]
    for job in doc["jobs"]:
        lines += ["", f"### Job {md_text(job['name'])}: {_status(job['status'])}", ""]
        if job["error"]:
            lines += [f"> {md_text(job['error'])}", ""]
        else:
            sha = (job["model_sha256"] or "")[:16]
            lines += [
                f"Model {md_text(job['model_path'])} (SHA-256 {md_text(sha)}…) on "
                f"{md_text(job['rows_used'])} rows of {md_text(job['data_path'])}.",
                "",
            ]
        lines += _rules_table(job["results"])
        for r in job["results"]:
            if r["type"] == "noise_floor" and "features" in r["details"]:
                lines += _noise_floor(r)
            elif r["type"] == "stability" and "methods" in r["details"]:
                lines += _stability(r)
            elif r["type"] == "drift" and "methods" in r["details"]:
                title = f"{html_text(r['rule'])}: changes from the baseline"
                lines += _moves(r["details"]["methods"], r["details"]["top_k"], title)
    return "\n".join(lines) + "\n"


def render_diff(doc: dict[str, Any]) -> str:
    """The ``xai diff`` summary."""
    k = doc["top_k"]
    limits = [f"{key} {v:g}" for key, v in doc["thresholds"].items() if v is not None]
    lines = [
        f"## xai diff: {_status(doc['status'])}",
        "",
        f"Base {md_text(doc['base']['path'])} → new {md_text(doc['new']['path'])} · top {k}"
        + (f" · thresholds: {', '.join(limits)}" if limits else " · no thresholds"),
        "",
        *_rules_table(doc["results"]),
    ]
    entries = [r["details"] for r in doc["results"] if r["details"].get("status") == "compared"]
    lines += _moves(entries, k, "Rank changes per method")
    return "\n".join(lines) + "\n"
