# Two commands a newcomer needs: `make plan` (the main job for now) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install test lint typecheck layers unit plan clean

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check controller tests bench
	$(BIN)/ruff format --check controller tests bench

typecheck: $(STAMP)
	$(BIN)/mypy controller tests

layers: $(STAMP)
	$(BIN)/lint-imports

unit: $(STAMP)
	$(BIN)/pytest

test: lint typecheck layers unit

plan: $(STAMP)
	$(BIN)/alb-ingress-controller plan -f examples/2048/

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
