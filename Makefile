# The README's commands. Everything installs itself: `make train` and `make test` work on a fresh machine.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
PY := $(VENV)/bin/python
# Reinstall when the dependency list or the checkout's location changes.
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-10)-$(shell echo $(CURDIR) | sha1sum | cut -c1-10)
DEBIAN_DATA := /usr/share/datasets/fashion-mnist

.PHONY: install data browser train test lint bench clean

install: $(STAMP) data

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade pip >/dev/null
	$(PY) -m pip install -e '.[dev,sweep]'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

# Fashion-MNIST: Debian's package where apt is usable, otherwise torchvision's download into data/.
data:
	@if [ -f $(DEBIAN_DATA)/train-images-idx3-ubyte.gz ] || [ -n "$$GENSTYLE_DATA" ]; then \
		echo "Fashion-MNIST: found"; \
	elif command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
		(apt-get update -qq && apt-get install -y -qq dataset-fashion-mnist >/dev/null) || \
		$(PY) -m genstyle.data.fetch; \
	else \
		$(PY) -m genstyle.data.fetch; \
	fi

train: install
	$(PY) train.py $(ARGS)

# Headless Chromium for the report rendering test (tests/test_compare.py skips it when absent).
browser:
	@if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then echo "chromium and chromedriver: found"; \
	elif command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
		apt-get update -qq && apt-get install -y -qq chromium chromium-driver >/dev/null; \
	else echo "chromium: not installed and not root; the browser test will be skipped (apt-get install chromium chromium-driver)"; fi

# Bytecode is written even where PYTHONDONTWRITEBYTECODE is set: the suite starts about a hundred
# CLI processes, and each would otherwise compile genstyle's modules again (about 2 s apiece).
test: install browser
	PYTHONDONTWRITEBYTECODE= $(PY) -m pytest $(ARGS)

# ruff, then the import rules of docs/architecture.md (contracts in pyproject.toml). import-linter
# runs through the venv's interpreter: a venv reused from another checkout keeps stale script paths.
lint: install
	$(PY) -m ruff check src tests benchmarks
	$(PY) -c 'import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())'

bench: install
	$(PY) benchmarks/throughput.py

clean:
	rm -rf outputs .pytest_cache .ruff_cache
