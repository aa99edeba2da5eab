"""Method parameters are declared once and validated the same way everywhere, before any work.

The command line (``--param``), the ``xai run`` config and the Python-level request all refuse a
misspelt name (with a "did you mean") and an out-of-range value, before a model is loaded; valid
parameters reach the method and change its result; every registered method declares a parameter
model and its capabilities; the README documents every declared parameter.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from xai_cli.cli import app
from xai_cli.config.load import load_plan
from xai_cli.config.schema import ConfigError, json_schema
from xai_cli.errors import MethodError, ParamError, UsageError
from xai_cli.methods import REGISTRY, MethodParams, check_methods, validate_params, with_params
from xai_cli.methods.base import CAPABILITIES, ExplainContext, check_declared
from xai_cli.methods.params import markdown_table, parse_options
from xai_cli.methods.permutation import PermutationParams
from xai_cli.request import ExplainRequest
from xai_cli.run.engine import explain

ROOT = Path(__file__).resolve().parents[1]
TYPO = "unknown parameter 'n_repeatz' for method 'permutation' (did you mean 'n_repeats'?)"
RANGE = "permutation: n_repeats must be >= 1 (got 0)"


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A small fitted forest and its labelled CSV (seconds to make)."""
    from sklearn.ensemble import RandomForestClassifier

    folder = tmp_path_factory.mktemp("params")
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(300, 4)), columns=["a", "b", "c", "d"])
    y = (X["a"] + 0.5 * X["b"] + 0.3 * rng.normal(size=300) > 0).astype(int)
    model = RandomForestClassifier(n_estimators=10, max_depth=4, random_state=0).fit(X, y)
    joblib.dump(model, folder / "model.joblib")
    X.assign(y=y).to_csv(folder / "data.csv", index=False)
    return folder / "model.joblib", folder / "data.csv"


# ------------------------------------------------------------------------------ Python level


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"permutation": {"n_repeatz": 3}}, TYPO),
        ({"permutation": {"n_repeats": 0}}, RANGE),
        ({"permutation": {"n_repeats": "0"}}, RANGE),  # text, as from --param
        ({"permutation": {"n_repeats": 1001}}, "permutation: n_repeats must be <= 1000 (got 1001)"),
        ({"permutation": {"n_repeats": "two"}}, "permutation: n_repeats must be an integer"),
        (
            {"permutaton": {"n_repeats": 3}},
            "unknown method 'permutaton' (did you mean 'permutation'?)",
        ),
        (
            {"treeshap": {"engine": "nativ"}},
            "treeshap: engine must be 'auto', 'tables', 'quadrature' or 'native' (got 'nativ') "
            "(did you mean 'native'?)",
        ),
        (
            {"treeshap.interventional": {"background_rows": 0}},
            "treeshap.interventional: background_rows must be >= 1 (got 0)",
        ),
        ({"xgboost.gain": {"depth": 1}}, "method 'xgboost.gain' takes no parameters (got 'depth')"),
    ],
)
def test_validate_params_refuses_with_one_clear_line(given: dict, message: str) -> None:
    with pytest.raises(ParamError) as caught:
        validate_params(given)
    assert message in caught.value.message
    assert "\n" not in caught.value.message
    assert caught.value.exit_code == 2
    assert isinstance(caught.value, ValueError)  # Python callers may catch it as such


def test_request_validates_before_any_file_is_read(tmp_path: Path) -> None:
    missing = str(tmp_path / "no-such-model.joblib")
    with pytest.raises(ParamError, match=re.escape(TYPO)):
        ExplainRequest(missing, missing, params={"permutation": {"n_repeatz": 3}})
    with pytest.raises(ParamError, match=re.escape(RANGE)):
        ExplainRequest(missing, missing, params={"permutation": {"n_repeats": 0}})
    with pytest.raises(MethodError, match=re.escape("(did you mean 'xgboost.gain'?)")):
        ExplainRequest(missing, missing, methods=("xgboost.gian",))
    with pytest.raises(UsageError, match="--top-k must be at least 1"):
        ExplainRequest(missing, missing, top_k=0)
    with pytest.raises(UsageError, match="unknown engine 'spark'"):
        ExplainRequest(missing, missing, engine="spark")


def test_request_keeps_typed_params_and_coerces_text() -> None:
    request = ExplainRequest("m", "d", params={"permutation": {"n_repeats": "3"}})
    assert request.params["permutation"] == PermutationParams(n_repeats=3)
    assert request.params_dump() == {"permutation": {"n_repeats": 3}}
    again = ExplainRequest("m", "d", params=request.params)  # typed params pass as they are
    assert again.params == request.params


def test_run_wide_n_jobs_reaches_only_methods_that_declare_it() -> None:
    request = ExplainRequest("m", "d", n_jobs=2, params={"treeshap": {"n_jobs": 1}})
    assert request.params_for(REGISTRY["treeshap"]).n_jobs == 1  # its own wins
    assert request.params_for(REGISTRY["treeshap.interventional"]).n_jobs == 2
    assert request.params_for(REGISTRY["permutation"]) == PermutationParams()
    assert with_params(REGISTRY["xgboost.gain"], {}, n_jobs=4) == REGISTRY["xgboost.gain"].params()


def test_a_method_reads_a_mapping_through_its_model(files: tuple[Path, Path]) -> None:
    from xai_cli.model.adapter import adapt

    model, data = files
    frame = pd.read_csv(data)
    ctx = ExplainContext(adapt(joblib.load(model)), frame.drop(columns="y"),
                         frame["y"].to_numpy(), 0, params={"n_repeatz": 3})  # fmt: skip
    with pytest.raises(ParamError, match=re.escape(TYPO)):
        REGISTRY["permutation"].explain(ctx)


def test_valid_params_change_the_result(files: tuple[Path, Path]) -> None:
    model, data = files

    def spread(repeats: int) -> np.ndarray:
        request = ExplainRequest(str(model), str(data), target="y", methods=("permutation",),
                                 params={"permutation": {"n_repeats": repeats}})  # fmt: skip
        (outcome,) = [o for o in explain(request).outcomes if o.method == "permutation"]
        assert outcome.table is not None and outcome.table.spread is not None
        assert outcome.table.params["n_repeats"] == repeats
        return outcome.table.spread

    assert not np.allclose(spread(2), spread(3))


# ------------------------------------------------------------------------------ command line


def _cli(*args: str) -> Any:
    return CliRunner().invoke(app, list(args))


@pytest.mark.parametrize(
    ("param", "message"),
    [
        ("permutation:n_repeatz=3", TYPO),
        ("permutation:n_repeats=0", RANGE),
        ("permutaton:n_repeats=3", "unknown method 'permutaton' (did you mean 'permutation'?)"),
    ],
)
def test_cli_refuses_bad_params_before_loading_anything(
    tmp_path: Path, param: str, message: str
) -> None:
    # the files do not exist: a parameter error, not a missing file, proves nothing was read
    missing_model, missing_data = tmp_path / "model.joblib", tmp_path / "data.csv"
    result = _cli("explain", str(missing_model), str(missing_data), "--param", param, "-q")
    assert result.exit_code == 2, result.output
    first = result.stderr.splitlines()[0]
    assert first.startswith("error[usage]: ") and message in first, result.output
    assert "Traceback" not in result.output


def test_cli_param_values_arrive_as_text() -> None:
    assert parse_options(["permutation:n_repeats=3", "treeshap:engine = native"]) == {
        "permutation": {"n_repeats": "3"},
        "treeshap": {"engine": "native"},
    }
    with pytest.raises(ParamError, match="is not METHOD:KEY=VALUE"):
        parse_options(["treeshap.interventional=50"])


# ------------------------------------------------------------------------------ config file

CONFIG = """\
schema_version: 1
output: {{folder: out}}
jobs:
  - model: {model}
    data: {{path: {data}, target: y}}
    methods: [permutation]
    params:
      permutation: {{{param}}}
"""


@pytest.mark.parametrize(
    ("param", "message"),
    [
        ("n_repeatz: 3", "8 jobs[0].params.permutation.n_repeatz: unknown key 'n_repeatz' "
                         "(did you mean 'n_repeats'?)"),  # fmt: skip
        ("n_repeats: 0", "8 jobs[0].params.permutation.n_repeats: must be >= 1 (got 0)"),
        ("n_repeats: '3'", "8 jobs[0].params.permutation.n_repeats: expected a valid integer"),
    ],
)
def test_config_refuses_bad_params_at_their_line(
    tmp_path: Path, files: tuple[Path, Path], param: str, message: str
) -> None:
    model, data = files
    path = tmp_path / "a.yaml"
    path.write_text(CONFIG.format(model=model, data=data, param=param), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_plan(path)
    assert f"{path}:{message}" in caught.value.message
    result = _cli("run", str(path), "-q")
    assert result.exit_code == 2
    assert result.stderr.startswith("error[config]: ") and f"{path}:{message}" in result.stderr
    assert not (tmp_path / "out").exists()


def test_config_params_become_the_requests_typed_params(
    tmp_path: Path, files: tuple[Path, Path]
) -> None:
    model, data = files
    path = tmp_path / "a.yaml"
    path.write_text(CONFIG.format(model=model, data=data, param="n_repeats: 2"), encoding="utf-8")
    (job,) = load_plan(path).jobs
    assert job.request.params == {"permutation": PermutationParams(n_repeats=2)}
    assert job.settings()["params"] == {"permutation": {"n_repeats": 2}}


def test_config_schema_describes_the_methods_own_models() -> None:
    schema = json_schema()
    params = schema["$defs"]["Params"]["properties"]
    taking = [name for name, e in REGISTRY.items() if e.params.model_fields]
    assert sorted(params) == sorted(taking)
    for name in taking:
        ref = params[name]["anyOf"][0]["$ref"].rsplit("/", 1)[1]
        declared = REGISTRY[name].params.model_json_schema()
        assert schema["$defs"][ref]["properties"] == declared["properties"], name


# ------------------------------------------------------------------------------ the contract


@pytest.mark.parametrize("name", list(REGISTRY))
def test_every_method_declares_params_and_capabilities(name: str) -> None:
    explainer = REGISTRY[name]
    check_declared(explainer)  # what the registry runs at import
    assert issubclass(explainer.params, MethodParams)
    assert explainer.params.model_config.get("extra") == "forbid"
    assert explainer.params.model_config.get("frozen") is True
    defaults = explainer.params()  # every parameter has a default
    for field, info in explainer.params.model_fields.items():
        assert info.description, f"{name}.{field} has no description"
        assert getattr(defaults, field) == info.default
    for capability, kind in CAPABILITIES.items():
        assert isinstance(getattr(explainer, capability), kind), capability
    assert explainer.estimate_seconds.__qualname__.startswith(type(explainer).__name__)
    assert explainer.cost_model.__qualname__.startswith(type(explainer).__name__)
    if explainer.row_wise or explainer.distributes:
        assert explainer.uses_rows


def test_a_method_missing_a_declaration_is_refused() -> None:
    class Half:
        name = "half"
        params = MethodParams
        in_auto = True

    with pytest.raises(TypeError, match="does not declare"):
        check_declared(Half())


def test_check_methods_suggests_and_accepts_auto() -> None:
    assert check_methods(["auto"]) == ("auto",)
    with pytest.raises(MethodError, match=re.escape("(did you mean 'treeshap'?)")):
        check_methods(["treshap"])


def test_readme_lists_every_declared_parameter() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = markdown_table(REGISTRY.values())
    assert table in readme, (
        "README's method-parameter table is out of date; replace it with:\n\n" + table
    )
