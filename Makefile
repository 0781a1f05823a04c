# Two commands matter: `make book` and `make test`. Both set everything up on a fresh machine.
SHELL := /bin/bash
PYTHON_SYS ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PROFILE ?= default
CH ?=
PARAMS ?=
PORT ?= 8000
# Branch for `make publish`; empty means repository.branch of book/_config.yml.
BRANCH ?=
# `make sweep`: the sweep NAME, a Dask scheduler address (empty: local processes), local workers.
NAME ?=
SCHEDULER ?=
WORKERS ?=
# Mirror directory for offline data preparation: $(CONTEXTURE_DATA_MIRROR), else a mirror folder
# ../shared/data beside the project when there is one; empty means download from OpenML.
DATA_MIRROR ?= $(or $(CONTEXTURE_DATA_MIRROR),$(wildcard ../shared/data))
DATA_FLAGS := $(if $(DATA_MIRROR),--mirror $(DATA_MIRROR),)

.PHONY: help setup browser data book smoke chapter sweep choose test verify golden lint bench serve clean publish

help:
	@echo "make book      set up, prepare data, execute every chapter (profile default), build HTML"
	@echo "make test      set up, prepare data, run the whole test suite (smoke book + browser)"
	@echo "make smoke     the book with the smoke profile (into build/smoke/_build/html)"
	@echo "make chapter CH=<name> PROFILE=<p> PARAMS=\"-p key value ...\"   one chapter"
	@echo "make sweep NAME=<sweep> PROFILE=<p> [SCHEDULER=tcp://host:8786] [WORKERS=n]   fill a sweep's store"
	@echo "make choose DATA=<file.csv> [ARGS=\"--target y\"]   rank contexts of your own data by tau"
	@echo "make verify PROFILE=<p> [CH=\"ch01_contexts ...\"]   re-execute, compare every number with tests/golden/<p>.json"
	@echo "make golden PROFILE=<p>   rewrite tests/golden/<p>.json from the last build of <p> and print the diff"
	@echo "make data      prepare the datasets (DATA_MIRROR=dir imports from a local mirror)"
	@echo "make serve     serve book/_build/html on 127.0.0.1:$(PORT)"
	@echo "make publish   make book, then commit it to the local launch-button branch (no push)"
	@echo "make bench     run the spectral solver benchmark"
	@echo "make clean     remove build outputs (keeps .venv and data/)"

setup: $(VENV)/.installed

$(VENV)/.installed: requirements.lock pyproject.toml
	test -x $(PY) || $(PYTHON_SYS) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.lock
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

# Debian chromium for the browser test (installed when missing and we are root).
browser:
	@if ! command -v chromium >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium; \
	  else echo "chromium is missing: install Debian's chromium package for the browser test"; fi; \
	fi

data: setup
	$(PY) -m data_scripts.prepare $(DATA_FLAGS)

book: setup data
	$(PY) -m bookbuild build --profile default

smoke: setup data
	$(PY) -m bookbuild build --profile smoke

# Commit the executed notebooks of the default build to a local branch for the launch buttons.
publish: book
	$(PY) -m bookbuild publish --profile default $(if $(BRANCH),--branch $(BRANCH),)

chapter: setup
	@test -n "$(CH)" || { echo "usage: make chapter CH=<name> PROFILE=<profile> PARAMS=\"-p key value\""; \
	  $(PY) -m bookbuild list; exit 2; }
	$(PY) -m bookbuild chapter $(CH) --profile $(PROFILE) $(PARAMS)

# Compute a sweep that a chapter declares (SWEEPS in its companion) into the store the chapter
# reads, locally or on a Dask cluster; without NAME, list the declared sweeps.
sweep: setup data
	@test -n "$(NAME)" || { echo "usage: make sweep NAME=<sweep> PROFILE=<profile> [SCHEDULER=tcp://host:8786] [WORKERS=n] [PARAMS=\"-p key value\"]"; \
	  $(PY) -m bookbuild sweep; exit 2; }
	$(PY) -m bookbuild sweep $(NAME) --profile $(PROFILE) $(PARAMS) \
	  $(if $(SCHEDULER),--scheduler $(SCHEDULER),) $(if $(WORKERS),--workers $(WORKERS),)

# Rank the contexts of a user's CSV/Parquet file by tau (Eq. (4), Sec. 5.3).
choose: setup
	@test -n "$(DATA)" || { echo "usage: make choose DATA=<file.csv|file.parquet> [ARGS=\"--target y --levels 7\"]"; exit 2; }
	$(PY) -m contexture.choose $(DATA) $(ARGS)

test: setup browser data
	$(PY) -m pytest

# Re-execute the chapters of a profile (CH: only these) and compare every reproduced number with
# the golden values; exit status 1 if anything changed beyond its tolerance.
verify: setup data
	$(PY) -m bookbuild verify --profile $(PROFILE) $(if $(CH),--chapters $(CH),)

# Rewrite the golden values of a profile from its last build (review the printed diff, commit).
golden: setup
	$(PY) -m bookbuild golden --profile $(PROFILE)

lint: setup
	$(VENV)/bin/ruff check contexture data_scripts tests benchmarks

bench: setup
	$(PY) benchmarks/bench_spectra.py
	$(PY) benchmarks/bench_context_sweep.py

serve:
	$(PY) -m http.server --bind 127.0.0.1 --directory book/_build/html $(PORT)

clean:
	rm -rf build book/_build .pytest_cache
