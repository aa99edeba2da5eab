# xai-cli: `make demo` and `make test` each do all of their own set-up on a fresh machine
# (Python 3.11 with pip and venv; `make test` also installs Debian's chromium for browser tests).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
MODELS := sample_models
REPORTS := reports

.PHONY: setup demo audit-demo test lint browser clean bench bench-check dist validate-suite

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

setup: $(STAMP)

$(MODELS)/.trained: $(STAMP) sample_data/train_models.py sample_data/adult.csv sample_data/california_housing.csv
	$(BIN)/python sample_data/train_models.py --out $(MODELS)
	touch $@

# Train the sample models; explain one in the terminal; run the batch config over all of them.
demo: $(MODELS)/.trained
	$(BIN)/xai explain $(MODELS)/adult_xgboost.joblib sample_data/adult.csv --target income --out $(REPORTS)/adult_xgboost
	$(BIN)/xai run configs/batch.yaml --jobs 2 --output-format none
	@echo; echo "Reports: $(REPORTS)/adult_xgboost/ and, for every sample model, $(REPORTS)/batch/<job>/ (report.html, report.md, report.json, importances.csv, agreement.csv)"; \
	echo "Batch index: $(REPORTS)/batch/index.html"

# `xai audit` on the sample model (passes, exit 0), then on a model trained with a leaked copy of
# the target (fails, exit 1 expected); outputs in reports/audit/ and reports/audit_leaky/.
audit-demo: $(MODELS)/.trained
	$(BIN)/python sample_data/train_audit_models.py --out $(MODELS)
	$(BIN)/xai audit configs/audit.yaml
	@set +e; XAI_MODEL=$(CURDIR)/$(MODELS)/adult_leaky.joblib \
	  XAI_DATA=$(CURDIR)/$(MODELS)/adult_leaky_holdout.csv \
	  $(BIN)/xai audit configs/audit.yaml --out $(REPORTS)/audit_leaky; code=$$?; \
	  echo "leaky model: exit $$code (1 expected)"; test $$code -eq 1

# Debian's chromium for the HTML report tests (root, or sudo where it is available).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium >/dev/null; }

test: $(STAMP) browser
	$(BIN)/python -m pytest

# The benchmark scripts' smoke tests (pytest -m bench: quick sizes, a process per measurement),
# left out of `make test` to keep it fast; .ci/run runs them after it.
bench-check: $(STAMP)
	$(BIN)/python -m pytest -m bench

lint: $(STAMP)
	$(BIN)/ruff check xai_cli tests sample_data docs benchmarks tools

# Benchmarks: train the seeded workloads once (cached in benchmarks/.cache), time xai's TreeSHAP
# against each library's own and shap, write benchmarks/results/latest.md; peak memory streamed vs
# in memory (streaming.md); what the time estimate costs against the run (estimate.md); how fast
# `xai --version`, `--help` and `xai methods` start, against `import typer` and loading the model
# alone (startup.md); HistGradientBoosting TreeSHAP against shap (hgb.md); treeshap.interactions
# against XGBoost's pred_interactions and shap's shap_interaction_values, with peak memory per row
# count (interactions.md); model-agnostic methods against shap (agnostic.md); the estimate against
# the actual time at 10k and 100k rows and its spread over two calls (estimate-accuracy.md); the
# first run after installing, with an empty numba cache and after `xai warmup` (first-run.md);
# what `xai validate` costs against the explain run it validates (validate.md);
# permutation importance against scikit-learn's (permutation.md). QUICK=1: small sizes, fewer runs.
# The peers (FastTreeSHAP, WOODELF, shapiq) come from pip install -e '.[bench]'. At the end the
# goals of issue 15 are checked against this run's results (benchmarks/goals.py, the end of
# latest.md) and, in full mode, the README's table is regenerated (benchmarks/readme_table.py).
BENCH_BUDGET ?= 60
bench: $(STAMP) $(MODELS)/.trained
	$(BIN)/pip install --quiet -e '.[bench]'
	$(BIN)/python -m benchmarks.run --budget $(BENCH_BUDGET) $(if $(QUICK),--quick --out benchmarks/results/latest-quick.md,)
	$(BIN)/python -m benchmarks.streaming $(if $(QUICK),--rows 8000 40000 --out benchmarks/results/streaming-quick.md,)
	$(BIN)/python -m benchmarks.estimate $(if $(QUICK),--quick,)
	$(BIN)/python -m benchmarks.pipelines $(if $(QUICK),--quick,)
	$(BIN)/python -m benchmarks.startup --model $(MODELS)/adult_xgboost.joblib $(if $(QUICK),--runs 3 --out benchmarks/results/startup-quick.md,)
	$(BIN)/python -m benchmarks.hgb $(if $(QUICK),--quick,)
	$(BIN)/python -m benchmarks.interactions $(if $(QUICK),--quick --out benchmarks/results/interactions-quick.md,)
	$(BIN)/python -m benchmarks.validate $(if $(QUICK),--runs 1 --out benchmarks/results/validate-quick.md,)
	$(BIN)/python -m benchmarks.agnostic $(if $(QUICK),--quick,)
	$(BIN)/python -m benchmarks.estimate_accuracy --model $(MODELS)/adult_xgboost.joblib $(if $(QUICK),--rows 10000 --out benchmarks/results/estimate-accuracy-quick.md,--rows 10000 100000)
	$(BIN)/python -m benchmarks.first_run --model $(MODELS)/adult_xgboost.joblib $(if $(QUICK),--out benchmarks/results/first-run-quick.md,)
	$(BIN)/python -m benchmarks.permutation $(if $(QUICK),--rows 2000 --trees 50 --out benchmarks/results/permutation-quick.md,)
	$(BIN)/python -m benchmarks.catboost $(if $(QUICK),--rows 2000 --trees 50 --runs 1 --out benchmarks/results/catboost-quick.md,)
	$(BIN)/python -m benchmarks.interventional $(if $(QUICK),--trees 20 --rows 50 --background 50 --runs 1 --out benchmarks/results/interventional-quick.md,)
	$(BIN)/python -m benchmarks.lightgbm_parse $(if $(QUICK),--trees 10 --train-rows 3000 --runs 1 --out benchmarks/results/lightgbm-parse-quick.md,)
	$(BIN)/python -m benchmarks.goals $(if $(QUICK),--latest benchmarks/results/latest-quick.md --permutation benchmarks/results/permutation-quick.md --streaming benchmarks/results/streaming-quick.md,)
	$(if $(QUICK),,$(BIN)/python -m benchmarks.readme_table)

# The wheel and sdist in dist/, checked as PyPI would (twine check --strict).
dist: $(STAMP)
	rm -rf dist
	$(BIN)/python -m build --no-isolation --outdir dist .
	$(BIN)/python -m twine check --strict dist/*

# The synthetic known-answer suite (T01-T06, T08, T09, T15) against every registered method;
# regenerates the published table docs/validation_suite.md.
validate-suite: $(STAMP)
	$(BIN)/xai validate --suite --suite-out docs/validation_suite.md --output-format none --exit-zero

clean:
	rm -rf $(VENV) $(MODELS) $(REPORTS) xai-report .pytest_cache
