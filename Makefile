# `make demo` and `make test` are all a fresh machine needs: each creates .venv and installs
# the project on first use, and does nothing extra when it is already installed.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp

.PHONY: demo test soak bench clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install --quiet --upgrade pip
	@$(PY) -m pip install --quiet -e '.[test,server,train,redis]'
	@touch $(STAMP)

demo: $(STAMP)
	@$(PY) -m rulerouter.cli.demo

test: $(STAMP)
	@$(PY) -m pytest

# The long reliability run: 5,000 requests through the library and 5,000 through the gateway
# under ~30% injected faults, and the generated fuzz cases (tests/test_fuzz.py, tests/test_fuzz_cli.py).
soak: $(STAMP)
	@RULEROUTER_SOAK=long HYPOTHESIS_PROFILE=long $(PY) -m pytest tests/test_soak.py tests/test_fuzz.py tests/test_fuzz_cli.py -s -o timeout=3600 -p no:cacheprovider

bench: $(STAMP)
	@$(PY) bench/decide.py

clean:
	rm -rf $(VENV) build *.egg-info
