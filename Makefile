# SIPAS Live — two commands on a fresh machine (Python 3.11, pip, make, gcc):
#   make demo    run the whole system against a simulated province (60 s, then a summary)
#   make test    lint, type-check and run every test tier against real servers
# Everything else is bootstrapped here: uv into .bootstrap/, the workspace into .venv/,
# and (as root, with apt) the Debian packages the tests drive: Chromium, Prometheus,
# Alertmanager, poppler and the Pango stack for PDF reports.

SHELL := /bin/bash
UV_VERSION ?= 0.13.9
DURATION ?= 60
PYTEST_ARGS ?=
BOOTSTRAP := .bootstrap
UV := $(BOOTSTRAP)/bin/uv
SYSTEM_PACKAGES := chromium prometheus prometheus-alertmanager poppler-utils \
	libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core fonts-liberation2
SYSTEM_COMMANDS := chromium promtool amtool pdftoppm

.PHONY: demo up test lint format sync system-packages clean help

help:
	@echo "make demo [DURATION=60]   run the system against a simulated province (0 = until Ctrl-C)"
	@echo "make up                   run the system until Ctrl-C (embedded NATS + Mongo)"
	@echo "make test                 lint + type-check + all tests (what CI runs)"
	@echo "make lint | format        ruff + mypy | apply ruff formatting"

$(UV):
	@python3 -m venv $(BOOTSTRAP) && $(BOOTSTRAP)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

sync: $(UV)
	@$(UV) sync --all-packages --locked --quiet

system-packages:
	@missing=0; for c in $(SYSTEM_COMMANDS); do command -v $$c >/dev/null || missing=1; done; \
	fc-list 2>/dev/null | grep -q LiberationSerif || missing=1; \
	if [ $$missing = 1 ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "Installing Debian packages: $(SYSTEM_PACKAGES)"; \
	    export DEBIAN_FRONTEND=noninteractive; \
	    apt-get update -qq && apt-get install -y -qq --no-install-recommends $(SYSTEM_PACKAGES) >/dev/null; \
	  else \
	    echo "warning: install these Debian packages for the browser, Prometheus and PDF tests: $(SYSTEM_PACKAGES)"; \
	  fi; \
	fi

demo: sync
	@$(UV) run --all-packages --frozen sipas demo --duration $(DURATION)

up: sync
	@$(UV) run --all-packages --frozen sipas up

lint: sync
	@$(UV) run --all-packages --frozen ruff check .
	@$(UV) run --all-packages --frozen ruff format --check .
	@$(UV) run --all-packages --frozen mypy
	@$(UV) run --all-packages --frozen sipas contracts export --check
	@$(UV) run --all-packages --frozen sipas i18n check
	@$(UV) run --all-packages --frozen sipas nats config --check
	@$(UV) run --all-packages --frozen sipas identity docs --check
	@$(UV) run --all-packages --frozen python deploy/grafana/dashboards.py --check

format: sync
	@$(UV) run --all-packages --frozen ruff format .
	@$(UV) run --all-packages --frozen ruff check --fix .

test: sync system-packages lint
	@$(UV) run --all-packages --frozen pytest $(PYTEST_ARGS)

clean:
	rm -rf .sipas .pytest_cache .mypy_cache .ruff_cache
