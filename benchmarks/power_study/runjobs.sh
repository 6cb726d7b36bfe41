#!/usr/bin/env bash
# Run the study's cells (one line of jobs.txt = the arguments of one run_cell.py call), two
# single-thread processes at a time. Usage: benchmarks/power_study/runjobs.sh [jobs.txt] [log]
cd "$(dirname "$0")"
export PYTHONPATH=../../src OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
tr '\n' '\0' < "${1:-jobs.txt}" | xargs -0 -P 2 -I{} ../../.venv/bin/python run_cell.py '{}' >> "${2:-jobs.log}" 2>&1
