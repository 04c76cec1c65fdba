# Two commands do everything on a fresh Debian machine:
#   make serve   set up, build every hall, serve them on http://127.0.0.1:8080
#   make test    set up, check lint and types (ruff, mypy), run the whole test suite
PY      := .venv/bin/python
HALLS   := .venv/bin/halls
HOST    ?= 127.0.0.1
PORT    ?= 8080

.PHONY: setup serve test lint build check bench clean

setup: .venv/.installed node_modules/.installed
	@tools/setup-system.sh

.venv/.installed: pyproject.toml
	python3 -m venv .venv
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	@touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

build: setup
	$(HALLS) build

check: setup
	$(HALLS) check

serve: build
	$(HALLS) serve --host $(HOST) --port $(PORT)

test: setup lint
	$(PY) -m pytest -q

lint: setup
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy

bench: setup
	$(PY) -m bench

clean:
	rm -rf build var
