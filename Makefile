# Two commands: `make run` serves the app on its embedded defaults, `make test` runs the whole suite.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app wsgi
HOST ?= 127.0.0.1
PORT ?= 5000
PG_TEST_URL ?= postgresql://postgres@127.0.0.1:5432/test

.PHONY: run test install install-dev system browser translations messages migrate bench chaos clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(VENV)/.installed $@

install: $(VENV)/.installed translations system

install-dev: $(VENV)/.installed-dev translations system browser

# Debian packages, installed with apt-get (as root or through sudo) only when missing.
APT_INSTALL = if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq

# What WeasyPrint needs to make PDFs (Pango, HarfBuzz), Cairo for CairoSVG (SVG logo strips drawn as PNG), and the
# fonts with Polish letters the documents embed.
system:
	@dpkg -s libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core libcairo2 >/dev/null 2>&1 || { \
	  $(APT_INSTALL) libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core libcairo2 >/dev/null; }

# Debian's Chromium for the browser tests (Playwright drives it; it downloads no browser of its own), and
# poppler-utils (pdftoppm) to render generated PDFs to images in the tests.
browser:
	@{ command -v chromium >/dev/null 2>&1 && command -v pdftoppm >/dev/null 2>&1; } || { \
	  $(APT_INSTALL) chromium poppler-utils >/dev/null; }

translations: | $(BIN)/python
	@$(BIN)/pybabel compile --use-fuzzy -d scheduler/translations >/dev/null

# After adding or changing user-facing strings: refresh the catalogs, then translate the new Polish entries
# (tests/test_translations.py fails until every string has a Polish translation).
messages: | $(BIN)/python
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext -k ngettext:1,2 -k _ln:1,2 -k lazy_ngettext:1,2 --project="Liderzy kooperacji" \
	  --copyright-holder="Regionalny Ośrodek Polityki Społecznej w Rzeszowie" -o scheduler/translations/messages.pot .
	$(BIN)/pybabel update -i scheduler/translations/messages.pot -d scheduler/translations --no-fuzzy-matching --ignore-obsolete

migrate: install
	$(FLASK) db upgrade

run: migrate
	$(FLASK) demo-data --if-empty
	@echo ""
	@echo "  Serwis działa pod adresem / the service runs at: http://$(HOST):$(PORT)"
	@echo "  Organizator demo / demo organiser: organizator@rops.rzeszow.local / demo-haslo-2019"
	@echo "  Administrator demo / demo admin:   admin@liderzy-kooperacji.local / demo-haslo-2019"
	@echo ""
	$(FLASK) run --host $(HOST) --port $(PORT)

# Runs on SQLite always and on PostgreSQL too when the local server answers
# (REQUIRE_POSTGRES=1, as in CI, makes a missing PostgreSQL an error).
test: install-dev
	@if $(BIN)/python -c "import psycopg,sys; psycopg.connect('$(PG_TEST_URL)', connect_timeout=3).close()" 2>/dev/null; then \
	  echo "PostgreSQL reachable: the suite runs on SQLite and PostgreSQL"; \
	  TEST_DATABASE_URL='$(PG_TEST_URL)' $(BIN)/python -m pytest $(PYTEST_ARGS); \
	elif [ "$$REQUIRE_POSTGRES" = 1 ]; then \
	  echo "PostgreSQL at $(PG_TEST_URL) is required but not reachable" >&2; exit 1; \
	else \
	  echo "PostgreSQL not reachable: the suite runs on SQLite only"; \
	  $(BIN)/python -m pytest $(PYTEST_ARGS); \
	fi

# The project against a bare Flask baseline on PostgreSQL and SQLite (about 10 minutes; BENCH_ARGS=--quick: 2 to 3).
# bench/load_declarations.py alone checks correctness under a rush and churn in more depth.
bench: install-dev
	$(BIN)/python bench/compare.py $(BENCH_ARGS)

# Faults against the outbox (SMTP away, kill -9, two clocks, PostgreSQL connections terminated): a table of
# sent/delivered/duplicated/lost; fails on any loss or more duplicates than faults. CHAOS_ARGS=--quick: 1-2 minutes.
chaos: install-dev
	$(BIN)/python bench/chaos.py $(CHAOS_ARGS)

clean:
	rm -rf $(VENV) instance
