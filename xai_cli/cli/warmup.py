"""``xai warmup``: compile the TreeSHAP kernels into numba's cache now, not during a first run."""

from __future__ import annotations

import typer

from xai_cli.cli.errors import error_boundary


def warmup_command(
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks."),
) -> None:
    """Compile xai's TreeSHAP kernels into numba's on-disk cache (once per installation).

    Without it the first run that uses `treeshap` compiles them (about 30-40 s); later runs load
    them from the cache in under a second. Run it after installing, or in a container image.
    """
    from rich.console import Console

    from xai_cli.run.warmup import warmup

    err = Console(stderr=True)
    with error_boundary(debug), err.status("compiling the TreeSHAP kernels…"):
        done = warmup()
    err.print(
        f"TreeSHAP kernels ready in {done.seconds:.1f} s (numba cache: {done.cache_dir})",
        highlight=False,
    )
