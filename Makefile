# Two entry points for a fresh machine: `make demo` and `make test`.
# The CPU build of torch is pinned in requirements/torch-cpu.txt so no multi-GB CUDA build is pulled;
# the package metadata itself keeps the range torch>=2.2 for users with GPUs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.resode-installed

.PHONY: install demo test lint format bench mutate clean slurm-packages

$(STAMP): pyproject.toml requirements/torch-cpu.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements/torch-cpu.txt
	$(BIN)/python -m pip install --quiet -c requirements/torch-cpu.txt -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/resode reproduce

# The Slurm tests (tests/test_slurm.py, docs/cluster.md) start a single-node cluster of their own;
# as root with apt-get, `make test` first installs its Debian packages when they are missing
# (elsewhere those tests skip and say why).
SLURM_DEBS := munge slurmctld slurmd slurm-client
slurm-packages:
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && ! command -v slurmctld >/dev/null && ! [ -x /usr/sbin/slurmctld ]; then \
	  echo "installing $(SLURM_DEBS) for the Slurm tests"; \
	  DEBIAN_FRONTEND=noninteractive timeout 900 apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive timeout 900 apt-get install -y -qq --no-install-recommends $(SLURM_DEBS) >/dev/null \
	  || echo "could not install $(SLURM_DEBS): the Slurm tests will skip"; \
	fi

test: install slurm-packages
	$(BIN)/ruff check src tests benchmarks scripts
	$(BIN)/ruff format --check src tests benchmarks scripts
	$(BIN)/python -m pytest -n 2 --dist loadfile

lint: install
	$(BIN)/ruff check src tests benchmarks scripts
	$(BIN)/ruff format --check src tests benchmarks scripts

format: install
	$(BIN)/ruff format src tests benchmarks scripts
	$(BIN)/ruff check --fix src tests benchmarks scripts

bench: install
	$(BIN)/python benchmarks/run_all.py

# Mutation testing (docs/testing.md): `make mutate MODULE=attacks` (or corruptions, damping,
# blocks, robustness = the evaluation engine robustness/evaluate.py, verdicts, claims = the
# reproduce claim wiring, ode_train = paper B's forward, adjoint and GD, ode_measures, all).
# `make mutate MODULE=ode_train SAMPLE=25`: a seeded sample of 25 of its mutants, scored.
# Not part of `make test`: minutes to hours.
MODULE ?= all
MUTATE_JOBS ?= 2
MUTATE_MODULES := attacks corruptions damping blocks robustness verdicts claims ode_train ode_measures
MUTANTS_attacks := resode.attacks.*
MUTANTS_corruptions := resode.corruptions.*
MUTANTS_damping := resode.nn.damping.*
MUTANTS_blocks := resode.nn.blocks.*
MUTANTS_robustness := resode.robustness.evaluate.*
MUTANTS_verdicts := resode.verdicts.*
MUTANTS_claims := resode.reproduce.claims.*
MUTANTS_ode_train := resode.ode.scaled_resnet.* resode.ode.train.*
MUTANTS_ode_measures := resode.ode.measures.*
MUTANTS_all := $(foreach m,$(MUTATE_MODULES),$(MUTANTS_$(m)))

mutate: install
	@test -n "$(MUTANTS_$(MODULE))" || { echo "make mutate: unknown MODULE=$(MODULE); use one of $(MUTATE_MODULES) or all" >&2; exit 2; }
ifdef SAMPLE
	$(BIN)/python scripts/mutate_sample.py --n $(SAMPLE) --jobs $(MUTATE_JOBS) $(foreach g,$(MUTANTS_$(MODULE)),'$(g)')
else
	$(BIN)/mutmut run --max-children $(MUTATE_JOBS) $(foreach g,$(MUTANTS_$(MODULE)),'$(g)') > mutants.log 2>&1 || { tail -c 3000 mutants.log; exit 1; }
	@$(BIN)/mutmut results --all true | awk -F': ' ' \
	  $$2 != "not checked" { n = $$1; sub(/^ +/, "", n); m = n; sub(/\.x(_|ǁ).*/, "", m); \
	    c[m, $$2]++; t[m]++; mods[m] = 1 } \
	  END { for (m in mods) printf "%-26s killed %4d  survived %3d  no tests %3d  timeout %3d  score %5.1f %%\n", \
	    m, c[m, "killed"], c[m, "survived"], c[m, "no tests"], c[m, "timeout"], 100 * c[m, "killed"] / t[m] }' | sort
	@echo "survivors: $(BIN)/mutmut results; a diff: $(BIN)/mutmut show NAME"
endif

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache mutants mutants.log
