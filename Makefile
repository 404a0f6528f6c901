# The README's two commands: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PORT   ?= 5000
HOST   ?= 127.0.0.1

.PHONY: install browser run test build-data benchmark clean

install: $(VENV)/.installed node_modules/.installed

$(VENV)/.installed: requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $@

# Leaflet and its plugins come from the npm registry at set-up and are served by the app (offline).
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# Debian's Chromium for the browser tests (never a browser download by a test tool).
browser:
	@command -v chromium >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq chromium)

run: install
	HOST=$(HOST) PORT=$(PORT) $(PY) -m webapp

test: install browser
	$(PY) -m pytest

build-data: install
	$(PY) -m geo.build

benchmark: install
	$(PY) -m benchmarks.recompute

clean:
	rm -rf $(VENV) node_modules test-artifacts
