# Two commands do the whole set-up on a fresh machine:
#   make run    installs, migrates the embedded SQLite, seeds a small demo, starts the service
#   make test   installs and runs the whole test suite
PYTHON ?= python3
VENV ?= .venv
HOST ?= 127.0.0.1
PORT ?= 5000
BIN := $(VENV)/bin

.PHONY: install run test clean help

help: ## Show the targets
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Reinstall only when the project's dependencies change.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $@

install: $(VENV)/.installed ## Create .venv and install the project with its test tools

run: install ## Migrate, seed the demo if empty, and serve on http://$(HOST):$(PORT)
	$(BIN)/sanzhida db upgrade
	$(BIN)/sanzhida seed demo --if-empty
	$(BIN)/sanzhida serve --host $(HOST) --port $(PORT)

test: install ## Run the whole suite (PostgreSQL/Redis when TEST_DATABASE_URL/TEST_REDIS_URL are set)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

clean: ## Remove the virtualenv and the embedded database
	rm -rf $(VENV) instance
