# Two commands for a newcomer: `make run` and `make test`. Both build the virtualenv themselves.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

CHROMIUM ?= /usr/bin/chromium
# the Vietnamese data and the font, not only the binary: either may be missing where tesseract is not
OCR_VIE  ?= /usr/share/tesseract-ocr/5/tessdata/vie.traineddata
DEJAVU   ?= /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf

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

# Scanned plans (PDF pages without text, .png/.jpg/.tif) are read by Tesseract with its Vietnamese
# data; the tests typeset plans with DejaVu Sans (fonts-dejavu-core).
$(OCR_VIE) $(DEJAVU):
	$$(command -v sudo || true) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $$(command -v sudo || true) apt-get install -y -qq tesseract-ocr tesseract-ocr-vie fonts-dejavu-core

run: $(STAMP) $(OCR_VIE)
	$(BIN)/cchc up

demo: $(STAMP)
	$(BIN)/cchc demo

# The fault-injection suite (tests/faults) has a CI subset in make test (marker every_run: no
# fault, every service killed with the crash windows, the 120 s soak; about 6 minutes, on the
# worker that runs the deployments). make faults runs all of it (about 18 minutes on 2 cores),
# make faults-ci the subset alone. A longer soak: CCHC_SOAK_SECONDS=3600 make faults
test: $(STAMP) $(CHROMIUM) $(OCR_VIE) $(DEJAVU)
	$(BIN)/ruff check shared services cchc web tests
	$(BIN)/mypy
	$(BIN)/pytest -n 2 -m "not faults or every_run"

faults-ci: $(STAMP)
	$(BIN)/pytest -m every_run

faults: $(STAMP)
	$(BIN)/pytest -m faults

lint: $(STAMP)
	$(BIN)/ruff check shared services cchc web tests bench
	$(BIN)/mypy

clean:
	rm -rf $(VENV)
