# vanilla-rnn-lab: every target builds .venv from requirements.txt first when it is missing or stale.
# `make help` lists the targets.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.requirements-installed
RAY_STAMP := $(VENV)/.requirements-ray-installed
NOTEBOOKS_STAMP := $(VENV)/.requirements-notebooks-installed
GPU_STAMP := $(VENV)/.requirements-gpu-installed
DOCS_STAMP := $(VENV)/.requirements-docs-installed
NAME ?=
PROFILE ?= quick
ARGS ?=
EXECUTOR ?= local
BACKEND ?=
# Two worker processes keep both cores of a small machine busy (each gets half the threads).
WORKERS ?= 2
# With EXECUTOR=ray the cluster's CPUs/GPUs set how many grid points run at once: the default WORKERS
# is not passed there (a WORKERS=N given on the command line or in the environment caps it).
WORKERS_ARG = $(if $(and $(filter ray,$(EXECUTOR)),$(filter file,$(origin WORKERS))),,--workers $(WORKERS))
PYTEST_ARGS ?=
# `make test` runs its files in this many processes (pytest-xdist; a file's tests stay together so its
# fixtures are built once). TEST_PROCESSES=0 runs them in this process (for pdb and -s).
TEST_PROCESSES ?= 2

# Quiet TensorFlow's C++ start-up chatter; errors still show.
export TF_CPP_MIN_LOG_LEVEL ?= 2

.DEFAULT_GOAL := help
.PHONY: help venv venv-gpu check-gpu-requirements lint format test test-integration test-slow test-outage experiment experiments report results register tensorboard mlflow-ui mlflow-server config-keys docs docs-serve lessons bench bench-lru bench-sweep notebooks jupyter test-ray test-postgres clean

help: ## List the targets.
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

$(STAMP): requirements.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	@touch $(STAMP)

venv: $(STAMP) ## Create or update .venv from requirements.txt.

# The optional Ray executor (requirements-ray.txt), installed on first use.
$(RAY_STAMP): $(STAMP) requirements-ray.txt
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-ray.txt
	@touch $(RAY_STAMP)

# Optional: Jupyter (requirements-notebooks.txt), installed on first use by `make notebooks`.
$(NOTEBOOKS_STAMP): $(STAMP) requirements-notebooks.txt
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-notebooks.txt
	@touch $(NOTEBOOKS_STAMP)

# Optional: MkDocs and its plugins (requirements-docs.txt), installed on first use by `make docs`.
$(DOCS_STAMP): $(STAMP) requirements-docs.txt
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-docs.txt
	@touch $(DOCS_STAMP)

# Optional: the CUDA libraries of TensorFlow and JAX (requirements-gpu.txt), for a GPU machine.
$(GPU_STAMP): $(STAMP) requirements-gpu.txt
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt -r requirements-gpu.txt
	@touch $(GPU_STAMP)

venv-gpu: $(GPU_STAMP) ## Add the CUDA libraries of TensorFlow and JAX to .venv (a Linux machine with an NVIDIA GPU; ~5 GB).

check-gpu-requirements: $(STAMP) ## Check that requirements-gpu.txt resolves with requirements.txt, every pin kept (pip --dry-run: metadata only).
	$(PY) scripts/check_gpu_requirements.py

lint: $(STAMP) ## Check the code with ruff (lint rules and formatting, as configured in pyproject.toml).
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(STAMP) ## Format the code with ruff and apply its safe fixes.
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

test: $(STAMP) $(RAY_STAMP) $(NOTEBOOKS_STAMP) ## Run the fast test suite (CI runs it, then test-integration; installs requirements-ray.txt and requirements-notebooks.txt too, for the Ray and notebook tests).
	$(PY) -m pytest -m "not slow and not integration" -n $(TEST_PROCESSES) --dist loadfile $(PYTEST_ARGS)

test-integration: $(STAMP) $(RAY_STAMP) ## Run the end-to-end checks across processes, servers and backends (Ray, two drivers at once, signals, JAX; CI runs them after test).
	$(PY) -m pytest -m "integration and not slow" -n $(TEST_PROCESSES) --dist loadfile $(PYTEST_ARGS)

test-slow: $(STAMP) ## Run the slow, paper-scale checks (skipped by `make test`).
	$(PY) -m pytest -m slow $(PYTEST_ARGS)

experiment: $(STAMP) $(if $(filter ray,$(EXECUTOR)),$(RAY_STAMP)) ## Run a named experiment: make experiment NAME=long_dependency [PROFILE=quick|smoke|long|full] [WORKERS=2] [BACKEND=tensorflow|jax] [EXECUTOR=local|ray] [ARGS="--set lr=0.01"]
	@test -n "$(NAME)" || { echo "Give an experiment name: make experiment NAME=<name>. Known names:"; $(PY) -m experiments list; exit 2; }
	$(PY) -m experiments run $(NAME) --profile $(PROFILE) --executor $(EXECUTOR) $(WORKERS_ARG) $(if $(BACKEND),--backend $(BACKEND)) $(ARGS)

experiments: $(STAMP) ## List the named experiments.
	@$(PY) -m experiments list

report: $(STAMP) ## Redraw the breakdown report of the latest sweep from MLflow: make report NAME=long_dependency
	@test -n "$(NAME)" || { echo "Give an experiment name: make report NAME=<name>"; exit 2; }
	$(PY) -m experiments report $(NAME) $(ARGS)

results: $(STAMP) ## Write docs/results.md from the tracking store: the newest sweep of each experiment and profile the template names (run them first).
	$(PY) -m experiments results $(ARGS)

register: $(STAMP) ## Register the latest sweep's best model in the MLflow Model Registry: make register NAME=long_dependency [ARGS="--grid-point gru-L100-s0"]
	@test -n "$(NAME)" || { echo "Give an experiment name: make register NAME=<name>"; exit 2; }
	$(PY) -m experiments register $(NAME) $(ARGS)

tensorboard: $(STAMP) ## Serve TensorBoard on 127.0.0.1 over the logs of every run, or of one: make tensorboard NAME=long_dependency
	$(PY) -m experiments tensorboard $(NAME) $(ARGS)

mlflow-ui: $(STAMP) ## Serve the MLflow UI on 127.0.0.1 over the tracking store in mlflow.yaml.
	$(PY) -m experiments mlflow-ui $(ARGS)

mlflow-server: $(STAMP) ## Start a team MLflow tracking server (SQL store, served artifacts): [ARGS="--host 0.0.0.0 --backend-store-uri postgresql://..."]
	$(PY) -m experiments mlflow-server $(ARGS)

test-outage: $(STAMP) ## A sweep riding out a real `mlflow server` restart (40 s), an outage past the window, a full disk (tmpfs, as root); minutes: docs/timings.md.
	$(PY) -m pytest tests/experiments/test_outage.py $(PYTEST_ARGS)

test-ray: $(RAY_STAMP) ## Run the Ray executor's tests (local Ray instance, a real `mlflow server`).
	$(PY) -m pytest tests/experiments/test_ray_executor.py $(PYTEST_ARGS)

test-postgres: $(RAY_STAMP) ## The Ray smoke sweep through `mlflow server` on PostgreSQL (apt-get installs it: root; minutes: docs/timings.md).
	PY=$(PY) bash scripts/postgres_smoke.sh

config-keys: $(STAMP) ## Write docs/config_keys.md (every config key, from experiments/config/settings.py).
	$(PY) -m experiments keys --markdown > docs/config_keys.md

docs: $(DOCS_STAMP) config-keys ## Build the documentation site into site/ (strict: a broken link fails; runs no lesson; writes docs/config_keys.md first).
	NO_MKDOCS_2_WARNING=1 $(PY) -m mkdocs build --strict --site-dir site

docs-serve: $(DOCS_STAMP) config-keys ## Serve the documentation site on http://127.0.0.1:8000, rebuilt on every edit.
	NO_MKDOCS_2_WARNING=1 $(PY) -m mkdocs serve --dev-addr 127.0.0.1:8000

lessons: $(NOTEBOOKS_STAMP) ## Run the lessons for real and write them, with outputs and figures, into docs/lessons/ (minutes: see docs/timings.md): [LESSONS=tutorials/04_*.py]
	$(PY) scripts/render_lessons.py $(or $(LESSONS),tutorials/0*.py)

bench: $(STAMP) ## Benchmark VanillaRNN against keras SimpleRNN (and torch nn.RNN if installed).
	$(PY) -m benchmarks $(ARGS)

bench-lru: $(STAMP) ## Time a training step of the LinearRecurrentUnit's two scans against VanillaRNN, SimpleRNN and GRU at L=100, 1000, 4000: [ARGS="--lengths 100 --rounds 3"]
	$(PY) -m benchmarks.lru_bench $(ARGS)

bench-sweep: $(STAMP) ## The quick flagship sweep the old way (Keras fit) and the new (compiled loop), side by side: [NAME=long_dependency PROFILE=quick WORKERS=2 BACKEND=tensorflow]
	$(PY) -m benchmarks.sweep_bench --experiment $(or $(NAME),long_dependency) --profile $(PROFILE) --workers $(WORKERS) --backend $(or $(BACKEND),tensorflow) $(ARGS)

notebooks: $(NOTEBOOKS_STAMP) ## Write the tutorials as Jupyter notebooks into notebooks/ (overwritten), on a kernel of this .venv.
	$(PY) scripts/make_notebooks.py --out notebooks tutorials/0*.py
	@echo "Open them with: make jupyter  (or: $(VENV)/bin/jupyter lab notebooks/)"

jupyter: $(NOTEBOOKS_STAMP) ## Open notebooks/ in JupyterLab (writes them first if there are none): [ARGS="--no-browser"; as root add --allow-root]
	@test -d notebooks || $(MAKE) --no-print-directory notebooks
	$(VENV)/bin/jupyter lab notebooks/ $(ARGS)

clean: ## Remove runtime output (keeps .venv).
	rm -rf mlflow.db mlflow.db-* mlruns mlartifacts tb_logs jax_cache artifacts benchmarks/out notebooks site .pytest_cache
