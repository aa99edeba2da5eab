# xai-cli: `make demo` and `make test` each do all of their own set-up on a fresh machine
# (Python 3.11 with pip and venv; `make test` also installs Debian's chromium for browser tests).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
MODELS := sample_models
REPORTS := reports

.PHONY: setup demo test lint browser clean bench

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

setup: $(STAMP)

$(MODELS)/.trained: $(STAMP) sample_data/train_models.py sample_data/adult.csv sample_data/california_housing.csv
	$(BIN)/python sample_data/train_models.py --out $(MODELS)
	touch $@

# Train the sample models, explain each with every method that applies, write all reports.
demo: $(MODELS)/.trained
	@set -e; \
	for lib in xgboost lightgbm catboost; do \
	  $(BIN)/xai explain $(MODELS)/adult_$$lib.joblib sample_data/adult.csv --target income --out $(REPORTS)/adult_$$lib -q; \
	  $(BIN)/xai explain $(MODELS)/california_$$lib.joblib sample_data/california_housing.csv --target MedHouseVal --out $(REPORTS)/california_$$lib --output-format none -q; \
	done; \
	$(BIN)/xai explain $(MODELS)/adult_random_forest.joblib sample_data/adult_numeric.csv --target income --out $(REPORTS)/adult_random_forest --output-format none -q; \
	$(BIN)/xai explain $(MODELS)/california_random_forest.joblib sample_data/california_housing.csv --target MedHouseVal --out $(REPORTS)/california_random_forest --output-format none -q; \
	$(BIN)/xai explain $(MODELS)/adult_xgboost.ubj sample_data/adult.parquet --target income --out $(REPORTS)/adult_xgboost_native --output-format none -q; \
	$(BIN)/xai explain $(MODELS)/adult_lightgbm.txt sample_data/adult.parquet --target income --out $(REPORTS)/adult_lightgbm_native --output-format none -q; \
	$(BIN)/xai explain $(MODELS)/adult_catboost.cbm sample_data/adult.parquet --target income --out $(REPORTS)/adult_catboost_native --output-format none -q; \
	echo; echo "Reports for every sample model are in $(REPORTS)/<model>/ (report.html, report.md, report.json, importances.csv, agreement.csv)"

# Debian's chromium for the HTML report tests (root, or sudo where it is available).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium >/dev/null; }

test: $(STAMP) browser
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check xai_cli tests sample_data docs benchmarks

# Benchmarks: train the seeded workloads once (cached in benchmarks/.cache), time xai's TreeSHAP
# against each library's own and shap, write benchmarks/results/latest.md. QUICK=1: small sizes.
BENCH_BUDGET ?= 300
bench: $(STAMP)
	$(BIN)/python -m benchmarks.run --budget $(BENCH_BUDGET) $(if $(QUICK),--quick,)

clean:
	rm -rf $(VENV) $(MODELS) $(REPORTS) xai-report .pytest_cache
