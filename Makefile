# The two commands: `make demo` and `make test`. Everything else supports them.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
LOCK := requirements/dev.lock
STAMP := $(VENV)/.installed-from-lock
PATHS := $(VENV)/.import-paths
# The OpenLineage provider, beside the venv rather than in it (requirements/openlineage.in says why).
OPENLINEAGE := $(VENV)/openlineage
OPENLINEAGE_LOCK := requirements/openlineage.lock
OPENLINEAGE_STAMP := $(OPENLINEAGE)/.installed-from-lock
LOCAL_AWS_PORT ?= 4566
STAGE ?= local
BENCH_RECORDS ?= 100000
export LOCAL_AWS_PORT

.PHONY: demo test bench airflow lint format clean venv lock java local-aws-start local-aws-stop local-aws-health deploy-local

## demo: local AWS up, stage `local` deployed, one full hourly DAG run, a summary (last line: JSON);
## SHARDS and RECORDS_PER_SHARD, when set, replace the DAG's Param defaults
demo: venv java
	$(BIN)/python -m local_run.demo $(if $(SHARDS),--shards $(SHARDS)) \
		$(if $(RECORDS_PER_SHARD),--records-per-shard $(RECORDS_PER_SHARD)) --port $(LOCAL_AWS_PORT)

## test: the whole suite (unit, DAG integrity, integration and end-to-end on the local AWS)
test: venv java
	$(BIN)/python -m pytest $(PYTEST_ARGS)

## bench: the pipeline measured on the local AWS at 10,000 and BENCH_RECORDS records (JSON in bench/results/)
bench: venv java
	$(BIN)/python -m bench --records $(BENCH_RECORDS) --port $(LOCAL_AWS_PORT)

## airflow: Airflow standalone wired to the local AWS (Ctrl-C stops everything)
airflow: venv java
	$(BIN)/python -m local_run.airflow_local --port $(LOCAL_AWS_PORT)

## lint: ruff (with the Airflow AIR rules) and the formatting check
lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: venv
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

## venv: create .venv from the lock (uv when available, pip otherwise)
venv: $(STAMP) $(PATHS) $(OPENLINEAGE_STAMP)

$(OPENLINEAGE_STAMP): $(OPENLINEAGE_LOCK) $(STAMP)
	@rm -rf $(OPENLINEAGE)
	@out=$$($(BIN)/python -m pip install -q --no-deps --target $(OPENLINEAGE) -r $(OPENLINEAGE_LOCK) 2>&1) \
		|| { echo "$$out"; exit 1; }
	@touch $(OPENLINEAGE_STAMP)

# The project itself, editable: its import roots come from pyproject.toml (no module edits sys.path).
$(PATHS): $(STAMP) pyproject.toml
	@out=$$($(BIN)/python -m pip install -q --no-deps --no-build-isolation -e . 2>&1) || { echo "$$out"; exit 1; }
	@$(BIN)/python -c "import employee_pipeline, employee_pipeline_ops, infra, local_aws, local_run" && touch $(PATHS)

$(STAMP): $(LOCK)
	@echo "creating $(VENV) from $(LOCK)"
	@if command -v uv >/dev/null 2>&1; then \
		uv venv -q --allow-existing --python "$(PYTHON)" $(VENV) && \
		VIRTUAL_ENV=$(VENV) uv pip sync -q $(LOCK); \
	else \
		$(PYTHON) -m venv $(VENV) && \
		$(BIN)/python -m pip install -q --upgrade pip && \
		$(BIN)/python -m pip install -q --no-deps -r $(LOCK); \
	fi
	@touch $(STAMP)

## lock: recompile the development lock from MWAA's Airflow 3.3.1 constraints
lock:
	uv pip compile requirements/dev.in -c requirements/mwaa-constraints-3.3.1.txt \
		--universal --python-version 3.11 -o $(LOCK)

java:
	@command -v java >/dev/null 2>&1 || { echo "Java 17 is missing: PySpark (the Glue 5.0 job) needs it; install it with 'sudo apt-get install openjdk-17-jre-headless' (Debian/Ubuntu) or 'brew install openjdk@17' (macOS), then rerun."; exit 1; }
	@java -version 2>&1 | grep -q 'version "17' || { echo "Java 17 is required (Glue 5.0 runs Spark 3.5 on Java 17) but 'java' is: $$(java -version 2>&1 | head -1); install openjdk-17 and put it first on PATH (or set JAVA_HOME)."; exit 1; }

local-aws-start: venv
	$(BIN)/python -m local_aws start --port $(LOCAL_AWS_PORT)

local-aws-stop: venv
	$(BIN)/python -m local_aws stop --port $(LOCAL_AWS_PORT)

local-aws-health: venv
	$(BIN)/python -m local_aws health --port $(LOCAL_AWS_PORT)

deploy-local: venv
	$(BIN)/python -m infra deploy --stage $(STAGE) --endpoint-url http://127.0.0.1:$(LOCAL_AWS_PORT)

## clean: stop the local AWS and remove every generated file
clean:
	-@[ -x $(BIN)/python ] && $(BIN)/python -m local_aws stop --port $(LOCAL_AWS_PORT) >/dev/null 2>&1 || true
	rm -rf $(VENV) .venv-mwaa-py312 .demo .local-aws .airflow .pytest_cache .ruff_cache spark-warehouse metastore_db derby.log
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
