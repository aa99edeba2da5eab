# xai-cli: `make demo` and `make test` each do all of their own set-up on a fresh machine
# (Python 3.11 with pip and venv; `make test` also installs Debian's chromium for browser tests).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
MODELS := sample_models
REPORTS := reports

.PHONY: setup demo audit-demo test lint browser clean bench

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

lint: $(STAMP)
	$(BIN)/ruff check xai_cli tests sample_data docs benchmarks tools

# Benchmarks: train the seeded workloads once (cached in benchmarks/.cache), time xai's TreeSHAP
# against each library's own and shap, write benchmarks/results/latest.md; peak memory streamed vs
# in memory (streaming.md); what the time estimate costs against the run (estimate.md); how fast
# `xai --version`, `--help` and `xai methods` start, against `import typer` and loading the model
# alone (startup.md); permutation importance against scikit-learn's (permutation.md). QUICK=1: small
# sizes, fewer runs. The peers (FastTreeSHAP, WOODELF) come from pip install -e '.[bench]'.
BENCH_BUDGET ?= 300
bench: $(STAMP) $(MODELS)/.trained
	$(BIN)/pip install --quiet -e '.[bench]'
	$(BIN)/python -m benchmarks.run --budget $(BENCH_BUDGET) $(if $(QUICK),--quick,)
	$(BIN)/python -m benchmarks.streaming $(if $(QUICK),--rows 8000 40000 --out benchmarks/results/streaming-quick.md,)
	$(BIN)/python -m benchmarks.estimate $(if $(QUICK),--quick,)
	$(BIN)/python -m benchmarks.startup --model $(MODELS)/adult_xgboost.joblib $(if $(QUICK),--runs 3 --out benchmarks/results/startup-quick.md,)
	$(BIN)/python -m benchmarks.permutation $(if $(QUICK),--rows 2000 --trees 50 --out benchmarks/results/permutation-quick.md,)

clean:
	rm -rf $(VENV) $(MODELS) $(REPORTS) xai-report .pytest_cache
