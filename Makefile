# The README's two commands: `make demo` and `make test`. Both set up everything they need.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_USERS ?= 2000
DEMO_PASSWORD ?= Demo-Passw0rd!
export MFAPORTAL_VAR_DIR ?= $(CURDIR)/var

.PHONY: demo test lint typecheck pytest bench bench-pg install clean screenshots system-packages

# The Debian packages the goals asked for need (Chromium, gettext, npm...), checked before
# anything else runs: installed when missing if make runs as root, else make stops with the
# one command to run. The same script serves .ci/run.
GOALS := $(or $(MAKECMDGOALS),demo)
SYSTEM_NEEDS := $(if $(filter test pytest install screenshots,$(GOALS)),test,$(if $(filter demo,$(GOALS)),demo,base))
system-packages:
	@PYTHON=$(PYTHON) VENV=$(VENV) scripts/system-packages.sh $(SYSTEM_NEEDS)

$(STAMP): pyproject.toml | system-packages
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# Compiled translations are generated, never committed: rebuilt whenever a .po changes.
MO := locale/es/LC_MESSAGES/django.mo
$(MO): locale/es/LC_MESSAGES/django.po | $(STAMP)
	MFAPORTAL_DEBUG=true $(BIN)/python manage.py compilemessages --ignore=.venv
	touch $(MO)

# axe-core, which the browser tests inject into every page, comes from the npm registry.
AXE := node_modules/axe-core/axe.min.js
$(AXE): package.json package-lock.json | system-packages
	npm ci --no-audit --no-fund --loglevel=error
	touch $(AXE)

install: $(STAMP) $(MO) $(AXE)

# Serve the demo tenant on http://127.0.0.1:8000 with the background task worker beside it.
demo: export MFAPORTAL_DEBUG := true
demo: $(STAMP) $(MO)
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py seed_demo --users $(DEMO_USERS) --password '$(DEMO_PASSWORD)'
	$(BIN)/python manage.py db_worker --queue-name '*' & worker=$$!; \
	trap 'kill $$worker 2>/dev/null' EXIT INT TERM; \
	$(BIN)/python manage.py runserver 127.0.0.1:8000

test: $(STAMP) $(MO) lint typecheck pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	@# Markdown code samples are prose: only the code is held to the formatter.
	$(BIN)/ruff format --check mfaportal tests bench manage.py gunicorn.conf.py

typecheck: export MFAPORTAL_DEBUG := true
typecheck: $(STAMP)
	$(BIN)/mypy mfaportal tests bench

# pytest's exit code 5 means it collected no test: that is a failure here, never a pass.
pytest: $(STAMP) $(MO) $(AXE)
	@$(BIN)/pytest $(PYTEST_ARGS); code=$$?; \
	if [ $$code -eq 5 ]; then echo "pytest collected no tests: failing."; exit 1; fi; exit $$code

# The users tab and bulk step against the floor project (bench/floor), then on PostgreSQL 15.
# BENCH_USERS=10000 for a quick run (1k and 10k users); the reported figures are at 100k.
bench: $(STAMP)
	$(BIN)/python -m bench

bench-pg: $(STAMP)
	bench/with-postgres.sh $(BIN)/python -m bench

# Retake the pictures in docs/ (the user guides show them) from the browser tests.
screenshots: $(STAMP) $(MO) $(AXE)
	MFAPORTAL_SCREENSHOTS=$(CURDIR)/docs/screenshots $(BIN)/pytest tests/e2e -q

clean:
	rm -rf $(VENV) node_modules var staticfiles .pytest_cache .mypy_cache .ruff_cache
