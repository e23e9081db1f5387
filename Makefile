# Two commands matter: `make run` (the whole product on embedded defaults) and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
export FLASK_APP := wsgi

.PHONY: run test bench browser system-deps clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Stamp files: reinstall only when a requirements file changes.
$(VENV)/.runtime-installed: requirements.txt | $(BIN)/python
	$(BIN)/python -m pip install --disable-pip-version-check -q -r requirements.txt
	touch $@

$(VENV)/.dev-installed: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/python -m pip install --disable-pip-version-check -q -r requirements-dev.txt
	touch $@ $(VENV)/.runtime-installed

run: $(VENV)/.runtime-installed
	$(BIN)/python scripts/run.py

# WeasyPrint's system libraries (pango, harfbuzz subsetting, a font). Best effort: without root
# or apt-get it only says what to install.
system-deps:
	-scripts/install-system-packages.sh libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core

test: $(VENV)/.dev-installed system-deps
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Every benchmark in bench/ against the local PostgreSQL (or BENCH_DATABASE_URL); see bench/README.md.
bench: $(VENV)/.dev-installed system-deps
	$(BIN)/python bench/run.py $(BENCHMARKS)

# Debian's Chromium for the browser tests (Playwright drives it; it never downloads its own),
# and poppler-utils (pdftotext/pdftoppm) for looking at statement PDFs.
browser:
	scripts/install-system-packages.sh chromium poppler-utils fonts-dejavu-core

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
