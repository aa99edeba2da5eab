"""Reading an ``xai run`` config: YAML with line numbers, validation, and the list of jobs.

Every problem is collected before anything runs and reported at once, each pointing at its file,
line and key path (``configs/a.yaml:12 jobs[2].methods[0]: unknown method ...``). Lines come from
PyYAML's composed node tree (the mark of each key or list item); key paths come from pydantic's
error locations or, for checks pydantic cannot do (files, hashes, names), from where the value
was read. Nothing here writes to the file system.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, get_args, get_origin

import yaml
from pydantic import BaseModel, TypeAdapter, ValidationError

from xai_cli.config.checks import FileChecks, expand_env
from xai_cli.config.limits import MAX_CONFIG_BYTES, MAX_DEPTH, check_node_graph
from xai_cli.config.schema import (
    CONFIG_SCHEMA_VERSION,
    RULE_TYPES,
    Config,
    ConfigError,
    DataSpec,
    Defaults,
    Execution,
    Job,
    JobEntry,
    Loc,
    Matrix,
    MatrixEntry,
    ModelSpec,
    Output,
    Params,
    Problem,
    _suggest,
    dotted,
)
from xai_cli.errors import XaiError, describe, printable
from xai_cli.load.data import resolve_max_rows
from xai_cli.methods import REGISTRY, taking_params
from xai_cli.methods.params import out_of_range
from xai_cli.reports.writer import parse_formats
from xai_cli.request import DEFAULT_SEED, DEFAULT_TOP_K, ExplainRequest
from xai_cli.run.estimate import resolve_time_limit

# ------------------------------------------------------------------------------------------ YAML


@dataclass
class YamlDoc:
    """A parsed config: its data, the 1-based line of every key path, and duplicate-key problems."""

    data: Any
    lines: dict[Loc, int] = field(default_factory=dict)
    duplicates: list[Problem] = field(default_factory=list)

    def line(self, loc: Loc) -> int:
        """The line of ``loc``, else of its nearest ancestor (a missing key: its parent)."""
        for end in range(len(loc), -1, -1):
            if loc[:end] in self.lines:
                return self.lines[loc[:end]]
        return 1


def _index(node: yaml.Node, loc: Loc, doc: YamlDoc) -> None:
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node.value)
            if key == "<<":  # merge key: the merged keys keep their own lines elsewhere
                continue
            here = (*loc, key)
            if here in doc.lines:
                doc.duplicates.append(Problem(here, f"duplicate key '{key}'"))
            doc.lines[here] = key_node.start_mark.line + 1
            _index(value_node, here, doc)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            doc.lines[(*loc, i)] = item.start_mark.line + 1
            _index(item, (*loc, i), doc)


def read_yaml(path: Path, shown: str) -> YamlDoc:
    """Parse ``path``; bad YAML is one :class:`ConfigError` at ``file:line:col``."""
    try:
        if path.stat().st_size > MAX_CONFIG_BYTES:
            raise ConfigError(
                f"config file {shown} is larger than {MAX_CONFIG_BYTES >> 20} MiB",
                hint="a config is a few kilobytes of YAML; check that this is the right file",
            )
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {shown}", hint="check the path") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config file {shown}", cause=describe(exc)) from exc
    loader: yaml.SafeLoader | None = None
    try:
        loader = yaml.SafeLoader(text)  # its reader checks the characters first
        node = loader.get_single_node()
        if node is not None:
            check_node_graph(node, shown)
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{shown}:{mark.line + 1}:{mark.column + 1}" if mark else shown
        what = " ".join(p for p in (exc.context, exc.problem) if p)
        raise ConfigError(f"{where}: invalid YAML: {what}", hint=None) from None
    except yaml.reader.ReaderError as exc:  # a character YAML forbids (NUL, most controls)
        before = text[: exc.position]
        where = f"{shown}:{before.count(chr(10)) + 1}:{exc.position - before.rfind(chr(10))}"
        raise ConfigError(
            f"{where}: invalid YAML: character #x{exc.character:04x} is not allowed", hint=None
        ) from None
    except yaml.YAMLError as exc:
        raise ConfigError(printable(f"{shown}: invalid YAML: {exc}"), hint=None) from None
    except RecursionError:  # PyYAML's composer recurses once per level, before our depth check
        raise ConfigError(
            f"{shown}: invalid YAML: nested more than {MAX_DEPTH} levels deep",
            hint="a config nests a few levels; check the brackets",
        ) from None
    except (ValueError, OverflowError) as exc:  # scalars PyYAML resolves but cannot build
        raise ConfigError(
            f"{shown}: invalid YAML: a value cannot be read",
            cause=describe(exc),
            hint="quote the value to keep it as text",
        ) from None
    finally:
        if loader is not None:
            loader.dispose()
    doc = YamlDoc(data)
    if node is not None:
        doc.lines[()] = node.start_mark.line + 1
        _index(node, (), doc)
    return doc


# ------------------------------------------------------------------------------ pydantic errors

_TYPE_NAMES = {
    str: "text",
    int: "an integer",
    float: "a number",
    bool: "true/false",
    list: "a list",
    dict: "a mapping",
    type(None): "null",
}


def _got(value: Any) -> str:
    kind = _TYPE_NAMES.get(type(value), type(value).__name__)
    if isinstance(value, str | int | float | bool) and len(repr(value)) <= 60:
        return f"{kind} {value!r}" if kind not in ("true/false",) else repr(value).lower()
    return kind


def _model_at(loc: Loc) -> type[BaseModel] | None:
    """The config model that the (tagged) pydantic location ``loc`` points into, if any."""
    current: Any = Config
    for part in loc:
        if isinstance(current, type) and issubclass(current, BaseModel):
            fields = {f.alias or n: f for n, f in current.model_fields.items()}
            if part not in fields:
                return None
            current = fields[part].annotation
        elif isinstance(part, int):
            current = list
        elif part in ("@job", "@matrix"):
            current = {"@job": Job, "@matrix": MatrixEntry}[part]
            continue
        elif isinstance(part, str) and part[1:] in RULE_TYPES:  # an audit rule's tag
            current = RULE_TYPES[part[1:]]
            continue
        else:
            return None
        current = _unwrap(current)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _unwrap(annotation: Any) -> Any:
    """``list[ModelSpec] | None`` -> ``ModelSpec``: element types, no ``None``, no metadata."""
    for _ in range(4):
        origin = get_origin(annotation)
        args = [a for a in get_args(annotation) if a is not type(None)]
        single = origin is not None and len(args) == 1
        if origin is Annotated or (origin is list and args) or single:
            annotation = args[0]
        else:
            break
    return annotation


def _problem(err: Mapping[str, Any]) -> Problem:
    """A pydantic error as a problem: tags stripped from the location, the message made plain."""
    raw_loc: Loc = tuple(err["loc"])
    loc: Loc = tuple(p for p in raw_loc if not (isinstance(p, str) and p.startswith("@")))
    kind, value, key = err["type"], err.get("input"), loc[-1] if loc else ""
    if kind == "extra_forbidden":
        parent = _model_at(raw_loc[:-1])
        if loc[-2:-1] == ("params",) and key in REGISTRY:
            some = list(taking_params())
            listed = ", ".join(some[:-1]) + f" and {some[-1]}" if len(some) > 1 else some[0]
            return Problem(loc, f"method '{key}' takes no parameters here ({listed} do)")
        allowed = [f.alias or n for n, f in parent.model_fields.items()] if parent else []
        return Problem(loc, f"unknown key '{key}'{_suggest(str(key), allowed)}")
    if kind == "missing":
        return Problem(loc[:-1], f"missing required key '{key}'")
    if kind == "literal_error" and loc == ("schema_version",):
        return Problem(
            loc,
            f"unsupported schema_version {value!r} (this xai-cli reads {CONFIG_SCHEMA_VERSION})",
        )
    if key == "sha256" and kind == "string_type":
        return Problem(loc, f"YAML read this SHA-256 as {_got(value)}: put it in quotes")
    if kind == "string_pattern_mismatch" and key == "sha256":
        return Problem(loc, f"'{value}' is not a SHA-256 digest (64 hexadecimal digits)")
    if kind == "string_pattern_mismatch":
        return Problem(
            loc,
            f"'{value}' is not a usable name: letters, digits, '.', '_' and '-', starting "
            "with a letter or digit, at most 100 characters",
        )
    if len(loc) >= 3 and loc[-3] == "params" and out_of_range(err):
        return Problem(loc, str(out_of_range(err)))  # as --param says it
    if kind in ("unknown_method", "unknown_format", "path_or_mapping"):
        return Problem(loc, err["msg"])
    message = err["msg"].replace("Input should be", "expected")
    message = message[0].lower() + message[1:]
    if kind.endswith("_type") or kind in ("literal_error", "union_tag_invalid"):
        message += f", got {_got(value)}"
    return Problem(loc, message)


def _validated(adapter: Any, value: Any, prefix: Loc, problems: list[Problem]) -> Any:
    """Validate one piece of the config; on failure, add its problems (under ``prefix``)."""
    try:
        return adapter.validate_python(value)
    except ValidationError as exc:
        for err in exc.errors():
            problems.append(_problem({**err, "loc": (*prefix, *err["loc"])}))
        return None


_ENTRY = TypeAdapter(JobEntry)


# --------------------------------------------------------------------------------------- the plan


@dataclass(frozen=True)
class Overrides:
    """Command-line values that replace the config's in every job (``None``: keep the config's)."""

    out: Path | None = None
    formats: tuple[str, ...] | None = None
    top_k: int | None = None
    seed: int | None = None
    max_rows: int | str | None = None
    """A number of rows, ``"all"``, or ``None`` to keep the config's."""
    methods: tuple[str, ...] | None = None
    trust_model: bool = False
    engine: str | None = None
    scheduler: str | None = None
    chunk_rows: int | None = None
    time_limit: str | None = None
    """``--time-limit`` as given (``"none"``: no limit), or ``None`` to keep the config's."""


@dataclass(frozen=True)
class JobSpec:
    """One job: its name, its files as the config wrote them, and the :class:`ExplainRequest` it
    runs, with every setting resolved (defaults merged, overrides applied, paths absolute).

    The request is the one option set; the job only adds what a batch needs besides.
    """

    name: str
    model_shown: str
    data_shown: str
    categorical: tuple[str, ...] | None
    """The columns the config says the model treats as categorical (checked before running)."""
    request: ExplainRequest

    @property
    def model_path(self) -> Path:
        """The model file, absolute."""
        return Path(self.request.model_path)

    @property
    def data_path(self) -> Path:
        """The data file, absolute."""
        return Path(self.request.data_path)

    def settings(self) -> dict[str, Any]:
        """The effective settings as JSON-safe data (paths as written), for the fingerprint."""
        r = self.request
        out: dict[str, Any] = {
            "name": self.name,
            "model": self.model_shown,
            "data": self.data_shown,
            "trust": r.trust_model,
            "target": r.target,
            "drop": list(r.drop),
            "categorical": None if self.categorical is None else list(self.categorical),
            "max_rows": r.max_rows,
            "seed": r.seed,
            "methods": list(r.methods),
            "params": r.params_dump(),
            "top_k": r.top_k,
            "engine": r.engine,
            "chunk_rows": r.chunk_rows,
            "time_limit": r.time_limit,
        }
        if r.memory_budget is not None:  # it can change what runs; absent: old records stay valid
            out["memory_budget"] = r.memory_budget
        if r.rows or r.where is not None or r.id_column is not None:  # old records stay valid
            out.update(rows=list(r.rows), where=r.where, id_column=r.id_column)
        return out


@dataclass(frozen=True)
class Plan:
    """A validated config: where reports go, which formats, and the jobs in config order."""

    config_path: Path
    out_dir: Path
    formats: tuple[str, ...]
    jobs: tuple[JobSpec, ...]


def _set(model: BaseModel | None) -> dict[str, Any]:
    """The keys a model was given explicitly (unset keys inherit from ``defaults``)."""
    return {} if model is None else {k: getattr(model, k) for k in model.model_fields_set}


def _params(*layers: Params | None) -> dict[str, dict[str, Any]]:
    merged: dict[str, dict[str, Any]] = {}
    for layer in layers:
        for method, values in (
            layer.model_dump(exclude_unset=True, by_alias=True) if layer else {}
        ).items():
            if values is not None:
                merged.setdefault(method, {}).update(values)
    return merged


_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def _label(spec: ModelSpec | DataSpec, shown: str) -> str:
    if spec.name:
        return spec.name
    stem = _SAFE.sub("_", Path(shown).stem).lstrip("._-")
    return stem[:48] or "x"


@dataclass
class _Builder:
    """Turns validated entries into :class:`JobSpec`, collecting problems with their locations."""

    base: Path
    defaults: Defaults
    top_k: int
    overrides: Overrides
    env: Mapping[str, str]
    problems: list[Problem]
    files: FileChecks
    execution: Execution = field(default_factory=Execution)
    jobs: list[JobSpec] = field(default_factory=list)
    names: dict[str, Loc] = field(default_factory=dict)

    def entry(self, i: int, entry: Job | MatrixEntry) -> None:
        if isinstance(entry, Job):
            self.job(
                entry.name,
                entry.model,
                ("jobs", i, "model"),
                entry.data,
                ("jobs", i, "data"),
                entry.methods,
                entry.params,
                ("jobs", i),
            )
            return
        matrix: Matrix = entry.matrix
        for mi, model in enumerate(matrix.models):
            for di, data in enumerate(matrix.datasets):
                self.job(None, model, ("jobs", i, "matrix", "models", mi), data,
                         ("jobs", i, "matrix", "datasets", di), matrix.methods, matrix.params,
                         ("jobs", i, "matrix"))  # fmt: skip

    def job(
        self,
        name: str | None,
        model: ModelSpec,
        model_loc: Loc,
        data: DataSpec,
        data_loc: Loc,
        methods: list[str] | None,
        params: Params | None,
        loc: Loc,
    ) -> None:
        m = {**_set(self.defaults.model), **_set(model)}
        d = {**_set(self.defaults.data), **_set(data)}
        model_shown = expand_env(model.path, self.env, (*model_loc, "path"), self.problems)
        data_shown = expand_env(data.path, self.env, (*data_loc, "path"), self.problems)
        if model_shown is None or data_shown is None:
            return
        o = self.overrides
        trust = o.trust_model or bool(m.get("trust", False))
        model_path = self.files.model(
            model_shown, self.base, model_loc, m.get("format", "auto"), model.sha256
        )
        data_path = self.files.data(data_shown, self.base, data_loc)
        categorical = d.get("categorical")
        if categorical is not None and model_path is not None:
            self.files.categorical(model_path, trust, categorical, (*data_loc, "categorical"))
        job_name = name or f"{_label(model, model_shown)}__{_label(data, data_shown)}"
        key = job_name.casefold()
        if key in self.names:
            where = (*loc, "name") if name else loc
            fix = (
                "give one of them a different `name`"
                if name or loc[-1] != "matrix"
                else ("give the model or dataset entry a `name`")
            )
            self.problems.append(
                Problem(
                    where, f"duplicate job name '{job_name}' (as {dotted(self.names[key])}): " + fix
                )  # fmt: skip
            )
            return
        self.names[key] = loc
        if model_path is None or data_path is None:
            return
        try:
            request = ExplainRequest(
                model_path=str(model_path),
                data_path=str(data_path),
                target=d.get("target"),
                methods=o.methods or tuple(methods or self.defaults.methods),
                max_rows=resolve_max_rows(
                    o.max_rows if o.max_rows is not None else d.get("max_rows")
                ),
                seed=o.seed if o.seed is not None else d.get("seed", DEFAULT_SEED),
                top_k=o.top_k or self.top_k,
                trust_model=trust,
                drop=tuple(d.get("drop", ())),
                rows=tuple(d.get("rows", ())),
                where=d.get("where"),
                id_column=d.get("id_column"),
                params=_params(self.defaults.params, params),
                engine=o.engine or self.execution.engine,
                scheduler=o.scheduler or self.execution.scheduler,
                chunk_rows=o.chunk_rows or self.execution.chunk_rows,
                time_limit=resolve_time_limit(o.time_limit or self.execution.time_limit),
                level=m.get("level", "raw"),
                memory_budget=self.execution.memory_budget,
            )
        except XaiError as exc:  # the schema checked the file; this is a bad override
            self.problems.append(Problem(loc, exc.message))
            return
        self.jobs.append(
            JobSpec(
                name=job_name,
                model_shown=model_shown,
                data_shown=data_shown,
                categorical=None if categorical is None else tuple(categorical),
                request=request,
            )
        )


def _report(shown: str, doc: YamlDoc, problems: list[Problem]) -> ConfigError:
    unique = list(dict.fromkeys(problems))
    lines = sorted(
        ((doc.line(p.loc), dotted(p.loc), p.message) for p in unique), key=lambda t: t[0]
    )
    rendered = tuple(
        printable(f"{shown}:{line} {path}: {message}" if path else f"{shown}:{line}: {message}")
        for line, path, message in lines
    )
    if len(rendered) == 1:
        return ConfigError(rendered[0], rendered)
    return ConfigError(
        f"{len(rendered)} problems in {shown}\n" + "\n".join(f"  {r}" for r in rendered),
        rendered,
    )


def load_plan(
    path: str | Path,
    overrides: Overrides | None = None,
    env: Mapping[str, str] | None = None,
) -> Plan:
    """Read, validate and check a config file; return its :class:`Plan`.

    Raises one :class:`ConfigError` listing every problem found (file, line, key path, message).
    """
    shown = str(path)
    config_path = Path(path)
    overrides = overrides or Overrides()
    env = os.environ if env is None else env
    doc = read_yaml(config_path, shown)
    problems = list(doc.duplicates)
    if not isinstance(doc.data, dict):
        what = "empty" if doc.data is None else f"{_got(doc.data)}, not a mapping"
        problems.append(Problem((), f"the config is {what}; see `xai init` for an example"))
        raise _report(shown, doc, problems)
    try:
        config: Config | None = Config.model_validate(doc.data)
    except ValidationError as exc:
        config = None
        problems.extend(_problem(err) for err in exc.errors())
    if config is not None:
        output, defaults, execution = config.output, config.defaults, config.execution
        entries = list(enumerate(config.jobs))
    else:  # check what did validate, so file problems show up beside schema problems
        quiet: list[Problem] = []
        output = _validated(TypeAdapter(Output), doc.data.get("output"), (), quiet)
        defaults = _validated(TypeAdapter(Defaults), doc.data.get("defaults", {}), (), quiet)
        execution = _validated(TypeAdapter(Execution), doc.data.get("execution", {}), (), quiet)
        raw_jobs = doc.data.get("jobs")
        entries = [
            (i, e)
            for i, raw in enumerate(raw_jobs if isinstance(raw_jobs, list) else [])
            if (e := _validated(_ENTRY, raw, (), quiet)) is not None
        ]
    base = config_path.resolve().parent
    builder = _Builder(
        base=base,
        defaults=defaults or Defaults(),
        top_k=output.top_k if output else DEFAULT_TOP_K,
        overrides=overrides,
        env=env,
        problems=problems,
        files=FileChecks(problems),
        execution=execution or Execution(),
    )
    for i, entry in entries:
        builder.entry(i, entry)
    out_dir = overrides.out.resolve() if overrides.out else None
    if out_dir is None and output is not None:
        folder = expand_env(output.folder, env, ("output", "folder"), problems)
        out_dir = Path(os.path.normpath(base / Path(folder).expanduser())) if folder else None
    if out_dir is not None and out_dir.exists() and not out_dir.is_dir():
        where = ("output", "folder")
        problems.append(Problem(where, f"the output folder {out_dir} is a file"))
    if problems:
        raise _report(shown, doc, problems)
    assert output is not None and out_dir is not None
    formats = overrides.formats or parse_formats(",".join(output.formats))
    return Plan(config_path.resolve(), out_dir, formats, tuple(builder.jobs))
