# `make demo` and `make test` create .venv and install the project first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install demo test clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $@

install: $(VENV)/.installed

# The whole demo pipeline in this folder (jobs in workspace/, results in analysis/); its last
# screen is the results table (python -m mobcg summary).
demo: install
	PATH=$(abspath $(BIN)):$$PATH SIGNAC_FLOW_ENVIRONMENT=StandardEnvironment $(BIN)/python init.py --preset demo
	PATH=$(abspath $(BIN)):$$PATH SIGNAC_FLOW_ENVIRONMENT=StandardEnvironment $(BIN)/python project.py run --progress
	@echo; PATH=$(abspath $(BIN)):$$PATH $(BIN)/python -m mobcg summary

test: install
	$(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV) workspace analysis/*.json analysis/*.png analysis/*.md
