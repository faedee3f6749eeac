# Two commands for a newcomer: `make run` and `make test`. Both build the virtualenv themselves.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

CHROMIUM ?= /usr/bin/chromium

.PHONY: run test lint clean demo faults

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
	$(BIN)/pytest -m "not faults or every_run"

# The whole fault-injection suite (tests/faults, 18 minutes alone on 2 cores). make test runs three
# of its tests (marker every_run: no fault, every service killed with the crash windows, the soak
# of every fault at random) and leaves to it the nats-server SIGKILL and PostgreSQL immediate stop
# on their own (the soak does both) and the two outages of minutes (NATS cut 130 s, PostgreSQL
# away 180 s). A longer soak: CCHC_SOAK_SECONDS=3600 make faults
faults: $(STAMP)
	$(BIN)/pytest -m faults

lint: $(STAMP)
	$(BIN)/ruff check shared services cchc web tests bench
	$(BIN)/mypy

clean:
	rm -rf $(VENV)
