# Two commands for a newcomer: `make run` and `make test`. Both build the virtualenv themselves.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

CHROMIUM ?= /usr/bin/chromium

.PHONY: run test lint clean demo faults faults-ci

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

# The browser tests drive Debian's chromium (Playwright cannot download its own browser here).
$(CHROMIUM):
	$$(command -v sudo || true) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $$(command -v sudo || true) apt-get install -y -qq chromium

run: $(STAMP)
	$(BIN)/cchc up

demo: $(STAMP)
	$(BIN)/cchc demo

test: $(STAMP) $(CHROMIUM)
	$(BIN)/ruff check shared services cchc web tests
	$(BIN)/mypy
	$(BIN)/pytest -n 2 -m "not faults"

# The fault-injection suite (tests/faults): make faults-ci runs its CI subset (marker every_run:
# no fault, every service killed with the crash windows, the 120 s soak), make faults all of it
# (about 18 minutes on 2 cores). Not in make test yet: in a two-worker run beside the e2e tests
# (07/12/2026) two of the three failed (a consumer left messages unacked for 300 s in the soak),
# to be understood first. A longer soak: CCHC_SOAK_SECONDS=3600 make faults
faults-ci: $(STAMP)
	$(BIN)/pytest -m every_run

faults: $(STAMP)
	$(BIN)/pytest -m faults

lint: $(STAMP)
	$(BIN)/ruff check shared services cchc web tests bench
	$(BIN)/mypy

clean:
	rm -rf $(VENV)
