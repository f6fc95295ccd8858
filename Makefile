# Sijill — the two commands of the README.
#   make run   install what is missing, migrate, load DEMO data, serve http://127.0.0.1:5000 with a worker
#   make test  install what is missing (test needs too), then ruff, mypy and pytest
PYTHON ?= python3
VENV ?= .venv
HOST ?= 127.0.0.1
PORT ?= 5000
SIJILL = $(VENV)/bin/sijill

.PHONY: run test install install-test lint

run: install
	$(SIJILL) db upgrade
	$(SIJILL) demo
	$(SIJILL) run --host $(HOST) --port $(PORT)

test: install-test
	scripts/run-tests.sh

install:
	PYTHON=$(PYTHON) VENV=$(VENV) scripts/install.sh

install-test:
	PYTHON=$(PYTHON) VENV=$(VENV) scripts/install.sh --test

lint:
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
