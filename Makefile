# The two commands of the README: `make run` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: run test lint serve bench load screenshots browser-deps clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

$(VENV)/.runtime: requirements.txt | $(VENV)/bin/python
	$(PY) -m pip install -q -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt | $(VENV)/bin/python
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $@ $(VENV)/.runtime

## run: install, start the local InfluxDB-compatible server (unless INFLUX_URL is set), set up, serve :8000
run: $(VENV)/.runtime
	scripts/run-local

## test: install (incl. Debian's chromium), then ruff and the whole test suite
test: $(VENV)/.dev browser-deps
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/pytest

browser-deps:
	@command -v chromium >/dev/null 2>&1 || { \
		echo "Installing Debian's chromium for the browser tests"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium >/dev/null; }

lint: $(VENV)/.dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

## serve: production-style: collect static files and run gunicorn as the README's deploy recipe
## does, with gunicorn.conf.py (needs SECRET_KEY, INFLUX_*)
serve: $(VENV)/.runtime
	$(PY) manage.py collectstatic --noinput
	$(VENV)/bin/gunicorn --config gunicorn.conf.py iotcenter.wsgi

## bench: benchmarks, printed side by side
bench: $(VENV)/.dev
	$(PY) -m bench.localinflux
	$(PY) -m bench.app
	$(PY) -m bench.fleetpages
	$(PY) -m bench.fleet
	$(PY) -m bench.alerts
	$(PY) -m bench.dashboard

## load: load test of the deployed app on 127.0.0.1 (50 clients, 60 s; bench/load.py)
load: $(VENV)/.dev
	$(PY) -m bench.load

## screenshots: regenerate docs/screenshots/ (overview, dashboard) with a local server and Chromium
screenshots: $(VENV)/.dev browser-deps
	$(PY) -m tests.browser.screenshot

clean:
	rm -rf $(VENV) staticfiles .pytest_cache .ruff_cache
