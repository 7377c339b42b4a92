# driftline — the two README commands are `make demo` and `make test`.
# Both set everything up first (Debian packages, virtualenv, Kafka jars) and are idempotent:
# the virtualenv is rebuilt only when requirements.lock or pyproject.toml change, the Kafka jars
# only when infra/kafka/pom.xml changes.

SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STATE := .driftline
KAFKA_LIBS := $(STATE)/kafka/libs
UV_VERSION := 0.13.9

.PHONY: setup system venv kafka demo test test-unit test-nightly lint format schemas clean

setup: system venv kafka

system:
	@bash infra/setup-system.sh

venv: $(VENV)/.stamp

# requirements.lock pins every extra (all, dev): the venv has the SDK, the monitor, the
# retrainer and the test tools, the same as `pip install -e '.[all,dev]'`.
$(VENV)/.stamp: requirements.lock pyproject.toml
	@echo "setup: virtualenv $(VENV) (torch from PyPI is the CUDA build: ~5 GB, a few minutes the first time)"
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install -q --disable-pip-version-check "uv==$(UV_VERSION)"
	@$(BIN)/uv pip sync -q --compile-bytecode --python $(BIN)/python requirements.lock
	@$(BIN)/uv pip install -q --python $(BIN)/python --no-deps -e .
	@touch $@

kafka: $(KAFKA_LIBS)/.stamp

$(KAFKA_LIBS)/.stamp: infra/kafka/pom.xml
	@echo "setup: fetching Apache Kafka jars from Maven Central into $(KAFKA_LIBS)"
	@rm -rf $(KAFKA_LIBS) && mkdir -p $(KAFKA_LIBS)
	@mvn -q -B -f infra/kafka/pom.xml dependency:copy-dependencies -DoutputDirectory=$(abspath $(KAFKA_LIBS))
	@sha256sum infra/kafka/pom.xml | cut -d' ' -f1 > $@

demo: setup
	@$(BIN)/driftline demo --config examples/demo.yaml

# The whole suite: unit, doctests, integration against a real broker that the test session
# starts on a free port (tests/integration/conftest.py) and stops at the end, real
# PostgreSQL/Redis servers, and the static checks.
test: setup lint
	@$(BIN)/pytest -p no:cacheprovider

test-unit: setup
	@$(BIN)/pytest -p no:cacheprovider -m "not integration and not servers"

test-nightly: setup
	@DRIFTLINE_NIGHTLY=1 $(BIN)/pytest -p no:cacheprovider -m slow

lint: venv
	@$(BIN)/ruff check .
	@$(BIN)/ruff format --check .
	@$(BIN)/mypy

format: venv
	@$(BIN)/ruff check --fix .
	@$(BIN)/ruff format .

schemas: venv
	@$(BIN)/driftline schemas export driftline/schemas
	@$(BIN)/driftline config reference > docs/config-reference.md

clean:
	@-$(BIN)/driftline broker stop 2>/dev/null || true
	rm -rf $(STATE)/kafka/data $(STATE)/kafka/logs $(STATE)/feast $(STATE)/registry.db $(STATE)/artifacts
