# `make demo` and `make test` are all a fresh machine needs: each creates .venv and installs
# the project on first use, and does nothing extra when it is already installed.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp

.PHONY: demo test bench lint-rules clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install --quiet --upgrade pip
	@$(PY) -m pip install --quiet -e '.[test,server]'
	@touch $(STAMP)

demo: $(STAMP)
	@$(PY) -m rulerouter.demo

test: $(STAMP)
	@$(PY) -m pytest

bench: $(STAMP)
	@$(PY) bench/decide.py

clean:
	rm -rf $(VENV) build *.egg-info
