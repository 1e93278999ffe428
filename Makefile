# Two commands do the whole set-up on a fresh machine:
#   make run    installs, migrates the embedded SQLite, seeds a small demo, starts the service
#   make test   installs and runs the whole test suite
PYTHON ?= python3
VENV ?= .venv
HOST ?= 127.0.0.1
PORT ?= 5000
# The local stand-ins for the WeChat API, the FunASR speech recogniser and Aliyun SMS (make run).
STANDIN_PORT ?= 8900
ASR_PORT ?= 10095
SMS_PORT ?= 8902
BIN := $(VENV)/bin

.PHONY: install browser media-tools report-tools run test lint security deploy-check clean help

help: ## Show the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-11s %s\n", $$1, $$2}'

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Reinstall only when the project's dependencies change.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $@

install: $(VENV)/.installed ## Create .venv and install the project with its test tools

run: install media-tools report-tools ## Migrate, seed the demo if empty, run web + workers + scheduler + stand-ins (simulator on http://HOST:PORT/dev/simulator/; set HOST, PORT, STANDIN_PORT, ASR_PORT, SMS_PORT)
	$(BIN)/sanzhida dev run --host $(HOST) --port $(PORT) --standin-port $(STANDIN_PORT) --asr-port $(ASR_PORT) --sms-port $(SMS_PORT)

# The browser test drives Debian's Chromium (with a CJK font for readable screenshots).
browser: ## Install Chromium and a CJK font from the system's packages if missing (needs root)
	@test -x /usr/bin/chromium || { \
	  echo "Installing chromium and fonts-wqy-zenhei with apt-get (needs root) …"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-wqy-zenhei; }

# The product converts voice with ffmpeg (AMR needs libavcodec-extra's decoder and encoder); the
# simulator and the tests speak Mandarin with espeak-ng and draw photos with a CJK font.
MEDIA_FONT := /usr/share/fonts/truetype/wqy/wqy-zenhei.ttc
media-tools: ## Install ffmpeg, libavcodec-extra, espeak-ng and a CJK font from the system's packages if missing (needs root)
	@if command -v espeak-ng >/dev/null && test -f $(MEDIA_FONT) \
	    && ffmpeg -hide_banner -encoders 2>/dev/null | grep -q libopencore_amrnb; then :; else \
	  echo "Installing ffmpeg, libavcodec-extra, espeak-ng and fonts-wqy-zenhei with apt-get (needs root) …"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    ffmpeg libavcodec-extra espeak-ng fonts-wqy-zenhei; fi

# The monthly report's PDF is laid out by WeasyPrint, which needs Pango (with HarfBuzz's subsetter for
# the embedded CJK font); the tests turn its pages into PNG and list its fonts with poppler-utils.
report-tools: ## Install Pango, a CJK font and poppler-utils from the system's packages if missing (needs root)
	@if ldconfig -p | grep -q libpangoft2-1.0.so.0 && ldconfig -p | grep -q libharfbuzz-subset.so.0 \
	    && test -f $(MEDIA_FONT) && command -v pdftoppm >/dev/null && command -v pdffonts >/dev/null; then :; else \
	  echo "Installing libpango-1.0-0, libpangoft2-1.0-0, libharfbuzz-subset0, fonts-wqy-zenhei and poppler-utils with apt-get (needs root) …"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-wqy-zenhei poppler-utils; fi

test: install browser media-tools report-tools ## Run the whole suite (PostgreSQL/Redis when TEST_DATABASE_URL/TEST_REDIS_URL are set)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install ## Check the layers (import-linter contracts in pyproject.toml)
	$(BIN)/lint-imports

# The product's packages (tests and benches are not shipped). Every finding of any severity has been
# looked at: what is not a problem carries `# nosec BXXX  # why` on its line.
PRODUCT_PACKAGES := bot cli config devtools handlers models runtime scheduler services workers
security: install ## Scan the product's code with bandit; a high-severity finding fails
	$(BIN)/bandit -q -r $(PRODUCT_PACKAGES) --severity-level high

# promtool (from Debian's prometheus package) validates the alert rules and the scrape config, and runs the
# alerts' unit tests (deploy/prometheus/alerts_test.yml).
deploy-check: ## Check deploy/prometheus with promtool (installs Debian's prometheus if missing; needs root)
	@command -v promtool >/dev/null || { \
	  echo "Installing prometheus (for promtool) with apt-get (needs root) …"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus; }
	cd deploy/prometheus && promtool check rules alerts.yml \
	  && promtool check config --syntax-only prometheus.yml && promtool test rules alerts_test.yml

clean: ## Remove the virtualenv and the embedded database
	rm -rf $(VENV) instance
