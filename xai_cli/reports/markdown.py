"""``report.md``: short enough for a pull-request comment.

Top features per method, the consensus, the weakest agreements, additivity, skipped and failed
methods, and the provenance essentials. Feature names are escaped for Markdown tables.
"""

from __future__ import annotations

from xai_cli.reports.document import Document, ok_methods, stability_lines, top_features

MAX_PAIRS = 5


def _cell(text: object) -> str:
    """Text safe inside a Markdown table cell (pipes, newlines and HTML brackets escaped)."""
    return (
        str(text)
        .replace("\\", "\\\\")
        .replace("|", "\\|")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace("\n", " ")
    )


def _num(value: float | None, digits: int = 2) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def render(doc: Document) -> str:
    """The Markdown report."""
    prov = doc["provenance"]
    k = doc["top_k"]
    lines = [
        f"## xai explain: `{_cell(prov['model_path'])}`",
        "",
        f"{_cell(prov['model_class'])} ({prov['family']}, {prov['task']}), "
        f"{prov['rows_used']} of {prov['rows_total']} rows of `{_cell(prov['data_path'])}`, "
        f"seed {prov['seed']}. Model SHA-256 `{prov['model_sha256'][:16]}…`.",
        "",
        f"**Consensus** (in every method's top {k}): "
        + (", ".join(f"`{_cell(f)}`" for f in doc["consensus"]) or "none"),
        "",
        f"| method | unit | {' | '.join(f'#{i}' for i in range(1, k + 1))} |",
        "|---|---|" + "---|" * k,
    ]
    for method in ok_methods(doc):
        rows = top_features(doc, method["method"], k)
        cells = [f"{_cell(r['feature'])} ({100 * (r['share'] or 0):.0f}%)" for r in rows]
        cells += [""] * (k - len(cells))
        lines.append(f"| {method['method']} | {method['unit']} | {' | '.join(cells)} |")
    pooled = [a for a in doc["agreement"] if a["class"] == "all"]
    if pooled:
        weakest = sorted(pooled, key=lambda a: (a["spearman"] is None, a["spearman"] or 0.0))[
            :MAX_PAIRS
        ]
        lines += [
            "",
            f"**Weakest agreement** ({len(pooled)} pairs in `agreement.csv`):",
            "",
            f"| method A | method B | Spearman | Kendall | top-{k} Jaccard |",
            "|---|---|---|---|---|",
        ]
        lines += [
            f"| {a['method_a']} | {a['method_b']} | {_num(a['spearman'])} | {_num(a['kendall'])} "
            f"| {_num(a['topk_jaccard'])} |"
            for a in weakest
        ]
    for check in doc["additivity"]:
        verdict = "ok" if check["ok"] else "**FAILED**"
        lines += [
            "",
            f"SHAP additivity ({check['method']}): {verdict}, max error "
            f"{check['max_abs_error']:.2e}, p99 {check['p99_abs_error']:.2e} "
            f"over {check['rows']} rows.",
        ]
    for line in stability_lines(doc):
        lines += ["", _cell(line) + "."]
    not_ok = [m for m in doc["methods"] if m["status"] != "ok"]
    if not_ok:
        lines += ["", "<details><summary>Skipped and failed methods</summary>", ""]
        lines += [f"- {m['status']}: `{m['method']}` — {_cell(m['reason'])}" for m in not_ok]
        lines += ["", "</details>"]
    for note in prov["notes"]:
        lines += ["", f"> note: {_cell(note)}"]
    return "\n".join(lines) + "\n"
