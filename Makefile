# The README's two commands: `make demo` (set up, then a real transfer) and `make test` (set up, then the suite).
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
export TRANSFERKIT_DATA_DIR ?= $(abspath ../shared/datasets)
# Pytest arguments, e.g. `make test PYTEST_ARGS="-k vision"`.
PYTEST_ARGS ?=

.PHONY: setup demo test clean

setup: $(VENV)/.installed

# torch first: the CPU build where no GPU is present (an unpinned torch pulls a multi-GB CUDA build),
# then the project with every built-in domain and the test tools. The floor 2.10 is the first torch whose
# weights_only=True loader has no known bypass (transferkit relies on it for every .pt/.ckpt it reads).
$(VENV)/.installed: pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	if command -v nvidia-smi >/dev/null 2>&1; then \
		$(PIP) install -q "torch>=2.10,<3"; \
	else \
		$(PIP) install -q "torch==2.13.0" || $(PIP) install -q "torch>=2.10,<3"; \
	fi
	$(PIP) install -q -e ".[all,dev]"
	touch $@

demo: setup
	$(VENV)/bin/transferkit demo

# Headless Chromium renders report.html in tests/test_report_html.py: installed where missing and apt-get exists.
test: setup
	command -v chromium >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1 || \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } || \
		echo "chromium not installed: the report.html browser tests skip (and fail under CI=true)"
	$(VENV)/bin/pytest -q $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) runs .pytest_cache
