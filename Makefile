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

# The fault-injection suite (tests/faults: a deployment of its own broken under load, outages of
# minutes) runs beside the others, since most of its time is spent waiting for an outage to end;
# its output comes at the end (and stays in build/faults.log).
test: $(STAMP) $(CHROMIUM)
	$(BIN)/ruff check shared services cchc web tests
	$(BIN)/mypy
	@mkdir -p build; \
	$(BIN)/pytest -m faults > build/faults.log 2>&1 & faults=$$!; \
	$(BIN)/pytest -m "not faults"; main=$$?; \
	wait $$faults; broken=$$?; \
	echo "==== tests/faults, run beside the others (whole output: build/faults.log) ===="; \
	tail -n 40 build/faults.log; \
	test $$main -eq 0 -a $$broken -eq 0

# The fault-injection suite alone; a longer soak: CCHC_SOAK_SECONDS=3600 make faults
faults: $(STAMP)
	$(BIN)/pytest -m faults

lint: $(STAMP)
	$(BIN)/ruff check shared services cchc web tests bench
	$(BIN)/mypy

clean:
	rm -rf $(VENV)
