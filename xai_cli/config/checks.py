"""Checks on a config that need the environment or the file system: ``${VAR}`` expansion, model
and data files (exist, known type, expected format and SHA-256) and the categorical columns.

Each check appends a problem at the key path it concerns instead of raising, so a config with
several mistakes reports all of them at once. Files are hashed and models loaded at most once.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from xai_cli.config.schema import Loc, Problem
from xai_cli.load.data import DATA_SUFFIXES
from xai_cli.load.models import NATIVE_SUFFIXES, PICKLE_SUFFIXES, file_sha256

_VAR = re.compile(r"\$\{([^}]*)\}")
_NAME = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)(?::-(.*))?$", re.DOTALL)


def expand_env(text: str, env: Mapping[str, str], loc: Loc, problems: list[Problem]) -> str | None:
    """Replace ``${VAR}`` (and ``${VAR:-default}``, used when VAR is unset or empty) in a path.

    An unset variable without a default, or a malformed reference, is a problem naming it; the
    result is then ``None``.
    """
    missing: list[str] = []

    def replace(match: re.Match[str]) -> str:
        parsed = _NAME.match(match.group(1))
        if parsed is None:
            missing.append(f"malformed variable reference '{match.group(0)}'")
            return ""
        name, default = parsed.group(1), parsed.group(2)
        value = env.get(name)
        if default is not None and not value:
            return default
        if value is None:
            missing.append(f"environment variable '{name}' is not set")
            return ""
        return value

    result = _VAR.sub(replace, text)
    if "${" in result and not missing:
        missing.append(f"unclosed variable reference in '{text}'")
    for message in missing:
        problems.append(Problem(loc, message))
    return None if missing else result


def resolve(shown: str, base: Path) -> Path:
    """A path from the config: ``~`` expanded, relative to the config's folder, normalised."""
    return Path(os.path.normpath(base / Path(shown).expanduser()))


def model_kind(path: Path) -> str | None:
    """How a model file loads, by extension: ``pickle``, ``xgboost``, ... or ``None``."""
    suffix = path.suffix.lower()
    return "pickle" if suffix in PICKLE_SUFFIXES else NATIVE_SUFFIXES.get(suffix)


@dataclass
class FileChecks:
    """File checks with caches, appending to a shared problem list."""

    problems: list[Problem]
    hashes: dict[Path, str] = field(default_factory=dict)
    categoricals: dict[tuple[Path, bool], tuple[str, ...] | None] = field(default_factory=dict)

    def _exists(self, path: Path, shown: str, what: str, loc: Loc) -> bool:
        if path.is_file():
            return True
        where = shown if str(path) == shown else f"{shown} (resolved to {path})"
        kind = "is not a file" if path.exists() else "not found"
        self.problems.append(Problem((*loc, "path"), f"{what} file {kind}: {where}"))
        return False

    def sha256(self, path: Path) -> str:
        """The file's SHA-256, computed once."""
        if path not in self.hashes:
            self.hashes[path] = file_sha256(path)
        return self.hashes[path]

    def model(self, shown: str, base: Path, loc: Loc, fmt: str, sha256: str | None) -> Path | None:
        """The model file's absolute path, or ``None`` after adding its problems."""
        path = resolve(shown, base)
        kind = model_kind(path)
        if kind is None:
            known = ", ".join((*PICKLE_SUFFIXES, *NATIVE_SUFFIXES))
            self.problems.append(
                Problem(
                    (*loc, "path"),
                    f"unknown model file type '{path.suffix or path.name}' (use one of: {known})",
                )
            )
            return None
        ok = True
        if fmt not in ("auto", kind):
            ok = False
            self.problems.append(
                Problem(
                    (*loc, "format"),
                    f"format '{fmt}' does not match the file '{path.name}', which loads as "
                    f"'{kind}' (the extension decides)",
                )
            )
        if not self._exists(path, shown, "model", loc):
            return None
        if sha256 is not None and self.sha256(path) != sha256.lower():
            ok = False
            self.problems.append(
                Problem(
                    (*loc, "sha256"),
                    f"SHA-256 mismatch for {path.name}: the file's is {self.sha256(path)}, "
                    f"the config expects {sha256.lower()}",
                )
            )
        return path if ok else None

    def data(self, shown: str, base: Path, loc: Loc) -> Path | None:
        """The data file's absolute path, or ``None`` after adding its problems."""
        path = resolve(shown, base)
        if path.suffix.lower() not in DATA_SUFFIXES:
            self.problems.append(
                Problem(
                    (*loc, "path"),
                    f"unknown data file type '{path.suffix or path.name}' (use .csv or .parquet)",
                )
            )
            return None
        return path if self._exists(path, shown, "data", loc) else None

    def categorical(self, model: Path, trust: bool, columns: list[str], loc: Loc) -> None:
        """Check ``columns`` against the columns the model treats as categorical.

        The engine types columns as the model expects (it cannot be told otherwise), so the config
        states an expectation that must match the model exactly. A model that does not load is
        left to the job, which fails with the loader's reason.
        """
        key = (model, trust)
        if key not in self.categoricals:
            self.categoricals[key] = _model_categoricals(model, trust)
        actual = self.categoricals[key]
        if actual is None:
            return
        extra = [c for c in columns if c not in actual]
        missing = [c for c in actual if c not in columns]
        parts = []
        if extra:
            parts.append("the model treats " + ", ".join(f"'{c}'" for c in extra) + " as numeric")
        if missing:
            parts.append(
                "the model also treats " + ", ".join(f"'{c}'" for c in missing) + " as categorical"
            )
        if parts:
            self.problems.append(
                Problem(loc, f"categorical does not match {model.name}: " + "; ".join(parts))
            )


def _model_categoricals(path: Path, trust: bool) -> tuple[str, ...] | None:
    """The model's categorical features, or ``None`` when it does not load here."""
    from xai_cli.load.models import load_model
    from xai_cli.model.adapter import adapt

    try:
        return tuple(adapt(load_model(path, trust=trust).obj).categorical_features)
    except Exception:  # the job reports load failures with their reason
        return None
