# Front door: `make run` starts the app on the built-in sample, `make test` runs the test suite.
# Both create .venv and install what they need (torch 2.13.0 CPU first, then the project).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export QT_QPA_PLATFORM ?= offscreen

.PHONY: install run test test-slow lint bench demo clean postgres

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# CLIP's BPE vocabulary ships with the model download; tests take it from the open-clip-torch
# wheel on PyPI (downloaded, unpacked, never installed or committed).
VOCAB := $(VENV)/clip/bpe_simple_vocab_16e6.txt.gz
$(VOCAB): | $(STAMP)
	$(BIN)/python -m pip download --quiet --no-deps open-clip-torch==3.3.0 -d $(VENV)/clip/wheel
	$(BIN)/python -c "import glob, zipfile; z = zipfile.ZipFile(glob.glob('$(VENV)/clip/wheel/*.whl')[0]); open('$(VOCAB)', 'wb').write(z.read('open_clip/bpe_simple_vocab_16e6.txt.gz'))"
export ANNOTATOR_CLIP_VOCAB := $(abspath $(VOCAB))

# The LVIS v1 class names (Open-Vocabulary SAM's released vocabulary) are read from the
# mmdetection wheel on PyPI, model id lvis_v1_names (downloaded, never installed or committed).
LVIS := $(VENV)/lvis/mmdet-3.3.0-py3-none-any.whl
$(LVIS): | $(STAMP)
	$(BIN)/python -m pip download --quiet --no-deps mmdet==3.3.0 -d $(VENV)/lvis
export ANNOTATOR_LVIS_NAMES := $(abspath $(LVIS))

install: $(STAMP)

run: $(STAMP)
	env -u QT_QPA_PLATFORM $(BIN)/annotator

demo: $(STAMP)
	$(BIN)/annotator demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports

# The PostgreSQL tests start their own server from Debian's binaries (skipped when absent).
postgres:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null || \
	  { SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); $$SUDO apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends postgresql; }

test: $(STAMP) $(VOCAB) $(LVIS) postgres lint
	$(BIN)/python -m pytest

test-slow: $(STAMP) $(VOCAB) $(LVIS) postgres
	$(BIN)/python -m pytest -m slow

bench: $(STAMP)
	@for b in tests/benchmarks/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info
