# panorama-gate developer tasks. `make dev lint test` is what CI runs (see .ci/run).
PY ?= python3
T ?=
TESTS ?= tests

.PHONY: dev lint reformat test test-fast bench goldens example check-example docs

dev:
	$(PY) -m pip install -e '.[dev]'

lint:
	$(PY) -m ruff format --check scanner signing tests benchmarks examples
	$(PY) -m ruff check scanner signing tests benchmarks examples
	$(PY) -m mypy
	lint-imports
	$(PY) -m mkdocs build --strict --quiet

reformat:
	$(PY) -m ruff format scanner signing tests benchmarks examples
	$(PY) -m ruff check --fix scanner signing tests benchmarks examples

test:
	$(PY) -m pytest -q $(TESTS) $(if $(T),-k '$(T)',)

test-fast:
	$(PY) -m pytest -q -m 'not docker and not slow' $(TESTS) $(if $(T),-k '$(T)',)

goldens:
	$(PY) -m pytest -q tests --update-goldens -k golden

example:
	$(PY) examples/build_example.py

# The committed example must be exactly what the builder makes.
check-example: example
	git diff --exit-code -- examples/

bench:
	$(PY) benchmarks/unpack.py --sizes 256,1024

# The manual (docs/) as a site in site/; --strict fails on a broken link or a page off the nav.
docs:
	$(PY) -m mkdocs build --strict
