# The README's two commands: `make demo` and `make test`. Each sets itself up:
# a virtualenv in .venv/, the pinned packages, and a throwaway Airflow home in
# .airflow/ (both ignored by git).

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

export AIRFLOW_HOME := $(CURDIR)/.airflow
export AIRFLOW__CORE__DAGS_FOLDER := $(CURDIR)/dags
export AIRFLOW__CORE__PLUGINS_FOLDER := $(CURDIR)/plugins
export AIRFLOW__CORE__LOAD_EXAMPLES := False
export AIRFLOW__CORE__UNIT_TEST_MODE := False
export ROISTAT_SETTINGS_FILE ?= $(CURDIR)/include/config/integration.yaml
export PYTHONPATH := $(CURDIR):$(CURDIR)/plugins

.PHONY: venv airflow-home test lint demo bench airflow clean lock

venv: $(STAMP)

$(STAMP): requirements.txt requirements-lock.txt pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "Python 3.11 is required, found " + sys.version' 
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.txt -c requirements-lock.txt
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -e .
	@touch $(STAMP)

# A throwaway Airflow home: its metadata database is SQLite inside .airflow/.
airflow-home: $(AIRFLOW_HOME)/.migrated

$(AIRFLOW_HOME)/.migrated: $(STAMP)
	@mkdir -p $(AIRFLOW_HOME)
	$(BIN)/airflow db migrate > $(AIRFLOW_HOME)/db-migrate.out 2>&1 || (cat $(AIRFLOW_HOME)/db-migrate.out; exit 1)
	@touch $@

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: lint airflow-home
	$(BIN)/python -m pytest

demo: airflow-home
	$(BIN)/python -m scripts.demo

# The Airflow UI (airflow standalone) on the demo's data; run `make demo` first.
airflow: airflow-home
	$(BIN)/python -m scripts.airflow_ui

bench: venv
	$(BIN)/python -m bench.run_bench $(BENCH_ARGS)

# Regenerate the lock file from the current, working virtualenv.
lock: venv
	$(BIN)/pip freeze --exclude-editable --exclude roistat-bpmonline | grep -v '^-e ' > requirements-lock.txt

clean:
	rm -rf $(VENV) $(AIRFLOW_HOME) .pgdata .sandbox .pytest_cache .ruff_cache
