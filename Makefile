# The two README commands: `make demo` and `make test`. Each bootstraps .venv itself.
PY := .venv/bin/python
export PYTHONPATH := $(CURDIR)/plugins:$(CURDIR)

.PHONY: demo test lint bench bench-venv bootstrap stop

bootstrap:
	@scripts/bootstrap.sh

demo: bootstrap
	$(PY) -m devtools.demo

test: bootstrap
	@scripts/system-deps.sh postgresql-15-pgaudit chromium
	ROBUSTNESS_REPORT=docs/robustness.md $(PY) -m pytest -q
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .

lint: bootstrap
	.venv/bin/ruff check . && .venv/bin/ruff format --check .

# make bench [N=1000000]: the shared path against COPY, insert_rows and dlt, and extraction
# against Graph's throttle and bare httpx paging (benchmarks/bench.py)
N ?= 1000000
bench: bootstrap bench-venv
	$(PY) benchmarks/bench.py --records $(N)

# dlt lives in its own virtualenv: never in the product's requirements
bench-venv:
	@[ -x .venv-bench/bin/python ] || { python3.11 -m venv .venv-bench && \
		.venv-bench/bin/pip install -q --disable-pip-version-check -r benchmarks/requirements.txt; }

stop:
	$(PY) -m devtools.embedded stop
