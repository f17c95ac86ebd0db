# The two commands a newcomer needs (see README.md):
#   make demo   run the receptionist on the embedded defaults
#   make test   run the whole test suite against real PostgreSQL and Redis
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: demo test services bench bench-availability bench-phone bench-stream-burst bench-audio-scenarios bench-audio-scenarios-cloud bench-dob bench-tts bench-tts-cloud bench-relay bench-end-of-turn venv talk

$(VENV)/bin/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] >= (3, 11) else "Python 3.11 or newer is needed (set PYTHON=...)")'
	@$(PYTHON) -m venv $(VENV) || { \
		echo "Could not create a virtualenv. On Debian: apt-get install -y python3-venv"; rm -rf $(VENV); exit 1; }
	$(PY) -m pip install -q --upgrade pip

$(VENV)/.runtime: requirements.txt requirements-nodeps.txt | $(VENV)/bin/python
	$(PY) -m pip install -q -r requirements.txt
	$(PY) -m pip install -q --no-deps -r requirements-nodeps.txt
	@touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt $(VENV)/.runtime
	$(PY) -m pip install -q -r requirements-dev.txt
	@touch $@

venv: $(VENV)/.runtime

# The server's Twilio REST calls (hang up, transfer) go to the simulator's fake Twilio API, and the
# practice clock is frozen on a Friday (the demo practice's facts are of late 2026), so "Monday" is always open.
# simulate_call prints the server's own record of the call, so both must use one database: neither is given a
# DATABASE_URL of its own here.
TWILIO_FAKE_PORT ?= 8010
DEMO_NOW ?= 2026-11-27T10:00:00-05:00
DEMO_ENV := TWILIO_API_BASE_URL=http://127.0.0.1:$(TWILIO_FAKE_PORT) PUBLIC_BASE_URL=http://$(HOST):$(PORT) FROZEN_NOW=$(DEMO_NOW)

demo: $(VENV)/.runtime
	$(PY) manage.py migrate --noinput -v0
	$(PY) manage.py seed_demo --reset
	@set -e; \
	$(DEMO_ENV) $(VENV)/bin/daphne -b $(HOST) -p $(PORT) receptionist_site.asgi:application >.demo-server.log 2>&1 & \
	server=$$!; trap 'kill $$server 2>/dev/null' EXIT INT TERM; \
	$(PY) -c "import time, urllib.request as u; exec('for _ in range(150):\n try:\n  u.urlopen(\'http://$(HOST):$(PORT)/health\', timeout=1); break\n except OSError:\n  time.sleep(0.2)')"; \
	echo ""; echo "A simulated caller phones Bright Smile Dental (Twilio's side played locally):"; \
	$(DEMO_ENV) $(PY) manage.py simulate_call --url http://$(HOST):$(PORT) --twilio-port $(TWILIO_FAKE_PORT) 2>/dev/null || true; \
	echo ""; \
	echo "Admin: http://$(HOST):$(PORT)/admin/  (the staff login above; the dashboard, Calls, and Talk to your receptionist)"; \
	echo "Health: http://$(HOST):$(PORT)/health/detailed   Server log: .demo-server.log"; \
	echo "Serving until Ctrl-C."; \
	wait $$server

CALLER ?= +15551110001
talk: $(VENV)/.runtime
	$(PY) manage.py migrate --noinput -v0
	@$(PY) manage.py shell -c "from tenants.models import Tenant; import sys; sys.exit(0 if Tenant.objects.filter(slug='demo').exists() else 1)" || $(PY) manage.py seed_demo
	$(PY) manage.py talk --tenant demo --from $(CALLER) $(if $(NOW),--now $(NOW),)

services:
	@bash .ci/test-services.sh

# Two workers (pytest-xdist, each with its own test database and Redis database): most of the suite's time is
# phone calls played in real time, which leave the processor idle.
TEST_WORKERS ?= 2
# Room in the pool for the 20-thread booking race plus the test's own connection.
# Then the tests marked sqlite_too (the retention purge's) again, on SQLite (pytest-django keeps its test
# database in memory); with PYTEST_ARGS, that selection may hold none of them (pytest's exit status 5).
test: $(VENV)/.dev
	@set -e; env_lines=$$(bash .ci/test-services.sh); \
	export $$env_lines ENVIRONMENT=test DATABASE_POOL_SIZE=40; \
	$(PY) -m pytest -n $(TEST_WORKERS) $(PYTEST_ARGS); \
	echo "Again on SQLite: the tests marked sqlite_too"; \
	status=0; DATABASE_URL=sqlite:////tmp/receptionist-test.sqlite3 $(PY) -m pytest -m sqlite_too $(PYTEST_ARGS) || status=$$?; \
	[ $$status -eq 0 ] || { [ $$status -eq 5 ] && [ -n "$(PYTEST_ARGS)" ]; }

# Benchmarks print their figures; see benchmarks/README.md.
bench: bench-availability bench-phone bench-stream-burst bench-dob bench-tts bench-audio-scenarios bench-audio-scenarios-cloud bench-tts-cloud bench-end-of-turn bench-relay

bench-availability: $(VENV)/.runtime
	env -u DATABASE_URL -u REDIS_URL $(PY) -m benchmarks.availability

bench-phone: $(VENV)/.runtime
	$(PY) -m benchmarks.phone

bench-stream-burst: $(VENV)/.runtime
	$(PY) -m benchmarks.stream_burst

bench-audio-scenarios: $(VENV)/.runtime
	$(PY) -m benchmarks.audio_scenarios

bench-audio-scenarios-cloud: $(VENV)/.runtime
	$(PY) -m benchmarks.audio_scenarios --cloud

bench-dob: $(VENV)/.runtime
	$(PY) -m benchmarks.dob_recognition

bench-tts: $(VENV)/.runtime
	$(PY) -m benchmarks.tts

bench-tts-cloud: $(VENV)/.runtime
	$(PY) -m benchmarks.tts_cloud

bench-end-of-turn: $(VENV)/.runtime
	$(PY) -m benchmarks.end_of_turn

bench-relay: $(VENV)/.runtime
	$(PY) -m benchmarks.relay
