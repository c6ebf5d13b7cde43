# kefu — two commands: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
# Links the server writes (survey links in chat, widget snippet) follow HOST/PORT unless KEFU_BASE_URL is set,
# e.g. to the public https:// address behind a reverse proxy.
KEFU_BASE_URL ?= http://$(HOST):$(PORT)
export KEFU_DATABASE_URL ?= sqlite:///./var/kefu.db

.PHONY: run test lint typecheck unit serve bench clean system-deps lock

# Exact, hash-checked versions of every dependency (runtime + dev); `make lock` refreshes both lock files.
$(BIN)/.installed: pyproject.toml requirements-dev.lock
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "kefu needs Python 3.11+"'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install -q --disable-pip-version-check --require-hashes -r requirements-dev.lock
	$(BIN)/python -m pip install -q --disable-pip-version-check --no-deps -e .
	touch $@

## lock: re-resolve requirements.lock (runtime, used by the Dockerfile) and requirements-dev.lock (runtime + dev,
##       used by the venv) from pyproject.toml, with hashes; `make lock LOCK_ARGS=--upgrade` moves to the newest versions
LOCK_FLAGS := -q --generate-hashes --allow-unsafe --strip-extras --no-emit-index-url --no-emit-find-links
lock:
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check "pip-tools>=7.4,<8"
	CUSTOM_COMPILE_COMMAND="make lock" $(BIN)/pip-compile $(LOCK_FLAGS) $(LOCK_ARGS) --extra dev -o requirements-dev.lock pyproject.toml
	CUSTOM_COMPILE_COMMAND="make lock" $(BIN)/pip-compile $(LOCK_FLAGS) -c requirements-dev.lock -o requirements.lock pyproject.toml

## run: bootstrap, migrate, load demo data, serve on http://$(HOST):$(PORT)
run: $(BIN)/.installed
	$(BIN)/kefu db upgrade
	KEFU_BASE_URL=$(KEFU_BASE_URL) $(BIN)/kefu demo
	KEFU_BASE_URL=$(KEFU_BASE_URL) KEFU_DEMO_MODE=$${KEFU_DEMO_MODE:-true} $(BIN)/kefu serve --host $(HOST) --port $(PORT)

## test: bootstrap, lint, type-check, run the whole suite
test: $(BIN)/.installed system-deps lint typecheck unit

# Debian packages the browser/protocol tests drive (Chromium, Dovecot IMAP) and the fonts PDF exports embed
# (kefu.privacy.pdf: WenQuanYi for Latin/BMP Chinese, HanaMin for rare and plane-2 ideographs, Symbola for emoji).
SYSTEM_PKGS := chromium fonts-wqy-microhei fonts-hanazono fonts-symbola dovecot-imapd
system-deps:
	@missing=""; for p in $(SYSTEM_PKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing$$missing"; apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else echo "warning: missing Debian packages:$$missing (browser/IMAP tests will skip)"; fi; \
	fi

lint: $(BIN)/.installed
	$(BIN)/ruff check src tests $(wildcard benchmarks)
	$(BIN)/ruff format --check src tests $(wildcard benchmarks)

typecheck: $(BIN)/.installed
	$(BIN)/mypy

# Test processes: pytest-xdist workers, one more than the CPUs (CI's full run keeps 2 cores ~64 % busy with 2: the
# drills and browser tests spend much of their time waiting on the processes they start); `make unit TEST_WORKERS=0`
# runs in one process.
# loadfile keeps each test file on one worker, so module-scoped fixtures (a browser, a built index) are made once;
# (loadgroup's xdist_group marks are ignored with pytest 9.2 and xdist 3.8: it rewrites a nodeid pytest no longer reads).
TEST_WORKERS ?= $(shell python3 -c "import os; print((os.cpu_count() or 1) + 1)")
unit: $(BIN)/.installed
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

bench: $(BIN)/.installed
	@for f in benchmarks/*.py; do echo "== $$f"; $(BIN)/python $$f || exit 1; done

clean:
	rm -rf $(VENV) var .mypy_cache .pytest_cache .ruff_cache
