# Two commands: `make run` and `make test`. Both install what they need first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run demo test test-future lint format lock clean audit

install: $(STAMP)

$(STAMP): requirements.lock
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else "HSE needs Python 3.11 (python3 is %d.%d); set PYTHON=python3.11" % sys.version_info[:2])'
	@echo "Installing HSE's dependencies into $(VENV) (a few minutes the first time)…"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --disable-pip-version-check --progress-bar on -r requirements.lock
	@touch $@

run: install
	$(BIN)/python scripts/run_local.py

# make run on fresh demo data: everything in the local database is replaced, so the demo's
# session with an open room is open again.
demo: install
	$(BIN)/python scripts/run_local.py --reset-demo

test: install
	$(BIN)/python scripts/run_tests.py $(ARGS)

# The suite again with the machine's clock moved to each of these instants (libfaketime):
# a test that fixes a date but lets the code read the real clock fails here, years before
# that date would have come. A US daylight-saving night, so the clock crosses one; one
# instant only, to keep CI under its time (each adds 5 minutes): `make test-future
# FUTURE=2028-10-29T00:30Z,2031-03-09T06:45Z` adds an EU night.
# Without the tests that build all their data from the clock (the browser's, the fuzz, the
# booking race, the faults), to keep CI short: they cannot hold a fixed date; and without
# the tests that measure real seconds (marked timing): a faked clock's sleeps do not last.
FUTURE ?= 2031-03-09T06:45Z
FUTURE_ARGS ?= --ignore=tests/browser --ignore=tests/test_fuzz.py \
	--ignore=tests/test_booking_race.py --ignore=tests/test_faults.py -m "not timing"
test-future: install
	$(BIN)/python scripts/run_tests.py --clock-at $(FUTURE) $(FUTURE_ARGS) $(ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Security scans. bandit runs in CI; pip-audit needs its vulnerability database on the
# internet (pypi.org / osv.dev), which CI's network does not reach, so it is run by hand.
audit: install
	$(BIN)/bandit -q -r accounts coaching hse ledger marketplace messaging payments payouts requests_app sessions_app stripe_standin -x "*/migrations/*"
	$(BIN)/pip-audit -r requirements.lock --progress-spinner off

# Re-pin every dependency after changing pyproject.toml.
lock: install
	$(BIN)/pip-compile --quiet --extra dev --strip-extras --no-emit-index-url --no-emit-find-links -o requirements.lock pyproject.toml

clean:
	rm -rf $(VENV) var staticfiles artifacts
