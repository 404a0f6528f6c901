# The README's two commands: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
# the test environment: the serving packages and the test tools (requirements-test.txt); .venv
# serves and holds none of them
TVENV  := .venv-test
TPY    := $(TVENV)/bin/python
PORT   ?= 5000
HOST   ?= 127.0.0.1

.PHONY: install install-test system bytecode browser postgresql run test build-data benchmark clean

install: system $(VENV)/.installed node_modules/.installed

install-test: install $(TVENV)/.installed

# Debian's packages the app runs with: pango for WeasyPrint (the briefs as PDF) and nginx, which
# make run puts in front of gunicorn so that slow clients hold no app thread (webapp/proxy.py).
system:
	@(ldconfig -p | grep -q libpangoft2-1.0 && command -v nginx >/dev/null) || \
	  (apt-get update -qq && apt-get install -y -qq libpango-1.0-0 libpangoft2-1.0-0 nginx-light)

# Made anew (--clear) when requirements.txt changes, so nothing that left the list stays installed.
$(VENV)/.installed: requirements.txt pyproject.toml
	$(PYTHON) -m venv --clear $(VENV)
	@echo "Installing the Python packages (requirements.txt) into $(VENV); log: $(VENV)/pip-install.log"
	@($(PY) -m pip install --quiet --upgrade pip && $(PY) -m pip install --quiet -r requirements.txt \
	  && $(PY) -m pip install --quiet --no-deps -e .) > $(VENV)/pip-install.log 2>&1 \
	  || (cat $(VENV)/pip-install.log; echo "pip install failed: the log is above and in $(VENV)/pip-install.log"; exit 1)
	touch $@

# The test tools in an environment of their own (pip takes the wheels .venv was built from again, so
# it takes about as long as .venv itself; see docs/operations.md).
$(TVENV)/.installed: requirements.txt requirements-test.txt pyproject.toml
	$(PYTHON) -m venv --clear $(TVENV)
	@echo "Installing the Python packages (requirements-test.txt) into $(TVENV); log: $(TVENV)/pip-install.log"
	@($(TPY) -m pip install --quiet --upgrade pip && $(TPY) -m pip install --quiet -r requirements-test.txt \
	  && $(TPY) -m pip install --quiet --no-deps -e .) > $(TVENV)/pip-install.log 2>&1 \
	  || (cat $(TVENV)/pip-install.log; echo "pip install failed: the log is above and in $(TVENV)/pip-install.log"; exit 1)
	touch $@

# Leaflet and its plugins come from the npm registry at set-up and are served by the app (offline).
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# Debian's Chromium for the browser tests (never a browser download by a test tool).
browser:
	@command -v chromium >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq chromium)

# gunicorn (production WSGI server): the app loaded and its first page rendered once, then worker
# processes sized to the cores (2-4) x 4 threads, each caching for itself; WORKERS, THREADS,
# SERVER=waitress (one process) override (webapp/serve.py)
run: install bytecode
	HOST=$(HOST) PORT=$(PORT) $(PY) -m webapp.serve

# The project's own modules compiled to bytecode (__pycache__, as pip does for installed packages), so a
# start reads them rather than compiling about 60 modules (0.1 s), also where PYTHONDONTWRITEBYTECODE is
# set; only changed modules are compiled again (about 50 ms when none changed).
bytecode: install
	$(PY) -m compileall -q webapp geo scoring

# Debian's PostgreSQL server programs: the store's tests start a throw-away server of their own
# (tests/pg.py: initdb in a temporary folder, run as the postgres user, a unix socket; removed after).
postgresql:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 \
	  || (apt-get update -qq && apt-get install -y -qq postgresql)

# lint, types and tests from the test environment (.venv-test); the app they test is the same code
test: install-test browser postgresql
	$(TPY) -m ruff check .
	$(TPY) -m mypy
	$(TPY) -m pytest

build-data: install
	$(PY) -m geo.build

# End-to-end recompute vs networkx on SYNTHETIC graphs (50k, 500k, 2M edges) and the shipped network,
# then the served app under 16 concurrent clients (loopback). Takes about 15 minutes.
benchmark: install-test
	$(TPY) -m benchmarks.recompute
	$(TPY) -m benchmarks.load --spawn
	$(TPY) -m benchmarks.robustness

clean:
	rm -rf $(VENV) $(TVENV) node_modules test-artifacts
