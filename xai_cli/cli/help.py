"""Help that teaches: argument and option placeholders that say what goes there, and examples.

Typer 0.29 labels every value with its Python type (``--target <str>``, ``--drop <list[str]>``,
arguments as ``{model}``), which tells a user nothing about what to type. :class:`XaiCommand`
gives each parameter a placeholder instead (``--target COL``, ``--drop COL``, ``MODEL``) from
:data:`METAVARS` (by parameter name; otherwise the name in capitals, as argparse does), and each
command an ``Examples:`` epilog from :data:`EXAMPLES`. Nothing here imports more than typer.
"""

from __future__ import annotations

from typing import Any

from typer.core import TyperCommand

METAVARS: dict[str, str] = {
    "target": "COL",
    "methods": "LIST",
    "out": "DIR",
    "formats": "LIST",
    "top_k": "K",
    "max_rows": "N|all",
    "seed": "N",
    "drop": "COL",
    "max_model_size": "SIZE",
    "engine": "local|dask",
    "scheduler": "URL",
    "chunk_rows": "N",
    "output_format": "FORMAT",
    "param": "METHOD:KEY=VALUE",
    "n_jobs": "N",
    "jobs": "N",
    "time_limit": "DURATION",
    "baseline": "PATH",
    "min_spearman": "RHO",
    "min_topk_jaccard": "J",
    "what": "WHAT",
}
"""The placeholder shown for a parameter, by its Python name; default: the name in capitals."""

EXAMPLES: dict[str, tuple[str, ...]] = {
    "explain": (
        "xai explain model.joblib data.csv --target income",
        "xai explain model.ubj data.parquet -t income -m treeshap,xgboost.gain,permutation "
        "-f json,html",
        "xai explain model.joblib data.csv -t income --estimate    # time each method, run none",
        "xai explain model.ubj big.parquet -t y --chunk-rows 50000  # stream every row",
    ),
    "methods": (
        "xai methods model.joblib",
        "xai methods model.ubj --output-format json",
    ),
    "run": (
        "xai init > my-model.yaml && xai run my-model.yaml",
        "xai run configs/batch.yaml --jobs 2 --resume",
    ),
    "init": ("xai init > configs/my-model.yaml",),
    "schema": (
        "xai schema > xai-config.schema.json",
        "xai schema report > xai-report.schema.json",
    ),
    "audit": (
        "xai audit configs/audit.yaml",
        "xai audit configs/audit.yaml --baseline reports/main/ --exit-zero",
    ),
    "diff": (
        "xai diff old/report.json new/report.json",
        "xai diff old/report.json new/report.json --min-spearman 0.8 --out diff/",
    ),
    "validate": (
        "xai validate sample_models/adult_xgboost.joblib sample_data/adult.csv --target income",
        "xai validate --suite            # known-answer tests against every method",
    ),
    "warmup": ("xai warmup                # compile the TreeSHAP kernels into the cache now",),
}
"""Example command lines per command, shown under ``Examples:`` in its ``--help``."""


def epilog(command: str) -> str:
    """The ``Examples:`` block of ``command``'s help; ``\\b`` keeps click from rewrapping it."""
    lines = EXAMPLES.get(command, ())
    if not lines:
        return ""
    return "Examples:\n\n\b\n" + "\n".join(f"  {line}" for line in lines)


class XaiCommand(TyperCommand):
    """A Typer command whose values show placeholders (``COL``, ``N``, ``DIR``) in ``--help``
    rather than Python types."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for param in self.params:
            is_flag = getattr(param, "is_flag", False)
            if param.metavar is None and not is_flag and param.name:
                param.metavar = METAVARS.get(param.name, param.name.upper())
            if param.param_type_name == "argument":
                _plain_argument(param)


def _plain_argument(param: Any) -> None:
    """Show an argument as click does: ``MODEL`` (``[WHAT]`` when optional) in the usage line,
    and no type after its name in the argument list (Typer writes ``{MODEL}`` and ``<path>``)."""
    shown = param.metavar if param.required else f"[{param.metavar}]"
    param.get_usage_pieces = lambda ctx: [shown]
    param.display_type_rich = lambda ctx: None
