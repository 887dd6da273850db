# The two README commands: `make demo` and `make test`. Each bootstraps .venv itself.
PY := .venv/bin/python
export PYTHONPATH := $(CURDIR)/plugins:$(CURDIR)

.PHONY: demo test lint benchmark bootstrap stop

bootstrap:
	@scripts/bootstrap.sh

demo: bootstrap
	$(PY) -m devtools.demo

test: bootstrap
	ROBUSTNESS_REPORT=docs/robustness.md $(PY) -m pytest -q
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .

lint: bootstrap
	.venv/bin/ruff check . && .venv/bin/ruff format --check .

benchmark: bootstrap
	$(PY) benchmarks/signins_interval.py

stop:
	$(PY) -m devtools.embedded stop
