# Proving Ground (练兵场). `make run` serves the app; `make test` runs the suite.
PYTHON ?= python3
VENV ?= .venv
HOST ?= 127.0.0.1
PORT ?= 5000
BIN := $(VENV)/bin
PG := $(BIN)/proving-ground

.PHONY: run test lint format install install-dev translations clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: setup.cfg pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: setup.cfg pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(VENV)/.installed $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

run: install
	PG_DEVELOPMENT=$${PG_DEVELOPMENT:-true} $(PG) db upgrade
	PG_DEVELOPMENT=$${PG_DEVELOPMENT:-true} $(PG) demo load --if-empty
	@echo "Serving on http://$(HOST):$(PORT) (Ctrl-C stops)"
	PG_DEVELOPMENT=$${PG_DEVELOPMENT:-true} $(PG) run --host $(HOST) --port $(PORT)

test: install-dev
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install-dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Extract UI strings and refresh the catalogues; edit the .po files, then compile.
translations: install-dev
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext -o platform/proving_ground/translations/messages.pot .
	$(BIN)/pybabel update -i platform/proving_ground/translations/messages.pot -d platform/proving_ground/translations --no-fuzzy-matching --width 88
	$(BIN)/python -c "$$FILL_EN"
	$(BIN)/pybabel compile -d platform/proving_ground/translations --statistics

# English is the source language: its catalogue repeats each message, so copy can
# later be edited without touching code.
define FILL_EN
from babel.messages.pofile import read_po, write_po
path = "platform/proving_ground/translations/en/LC_MESSAGES/messages.po"
catalog = read_po(open(path, "rb"))
for m in catalog:
    if m.id and not (all(m.string) if isinstance(m.string, tuple) else m.string):
        m.string = m.id
write_po(open(path, "wb"), catalog, width=88)
endef
export FILL_EN

clean:
	rm -rf $(VENV) build *.egg-info
