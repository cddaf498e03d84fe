# Nurture: `make run` starts the app with demo data; `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements.txt | md5sum | cut -c1-8)
DEV_STAMP := $(VENV)/.installed-dev-$(shell cat requirements.txt requirements-dev.txt | md5sum | cut -c1-8)

.PHONY: run test lint typecheck pytest bench-ingest messages clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(BIN)/python requirements.txt
	$(BIN)/pip install -q --disable-pip-version-check -r requirements.txt
	$(BIN)/pip install -q --disable-pip-version-check --no-deps -e .
	touch $@

$(DEV_STAMP): $(STAMP) requirements-dev.txt
	$(BIN)/pip install -q --disable-pip-version-check -r requirements-dev.txt
	touch $@

run: $(STAMP)
	$(BIN)/nurture run

test: $(DEV_STAMP) lint typecheck pytest

lint: $(DEV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(DEV_STAMP)
	$(BIN)/mypy nurture

pytest: $(DEV_STAMP)
	$(BIN)/pytest

bench-ingest: $(DEV_STAMP)
	$(BIN)/python bench/ingest.py

# Regenerate the Vietnamese catalogue after changing user-facing strings (needs GNU gettext).
messages: $(DEV_STAMP)
	cd nurture && ../$(BIN)/python ../manage.py makemessages -l vi --no-obsolete && ../$(BIN)/python ../manage.py compilemessages -l vi

clean:
	rm -rf $(VENV) var staticfiles
