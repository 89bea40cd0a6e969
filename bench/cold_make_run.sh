#!/bin/bash
# A cold `make run`, phase by phase (issue 23, item 3; bench/RESULTS.md): bench/cold_make_run.sh REPO REV LABEL
# A fresh clone at REV, empty uv and pip caches, no uv on PATH (so the Makefile bootstraps it with pip), then the
# phases of `make run` one by one; the install alone is measured again from the warm cache into a new .venv.
set -euo pipefail
SRC=$1; REV=$2; LABEL=$3
W=$(mktemp -d "/tmp/cold-make-run-$LABEL.XXXX")
git clone -q "$SRC" "$W/tree" && git -C "$W/tree" checkout -q "$REV"
cd "$W/tree"
export UV_CACHE_DIR=$W/uvcache PIP_NO_CACHE_DIR=1
PATH=$(echo "$PATH" | tr ':' '\n' | grep -v "/.tools/bin" | paste -sd:)
export PATH
ts() { date +%s.%N; }
since() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f}')" "$1" "$2"; }
L0=$(cut -d' ' -f1 /proc/loadavg)
t0=$(ts)
make "$PWD/.tools/bin/uv" >/dev/null 2>&1
t1=$(ts)
.tools/bin/uv sync --frozen --inexact --no-dev --package sweepkit-cli -q
t2=$(ts)
.tools/bin/uv run --frozen --no-sync sweep run examples/maze.yaml --out out >sweep.out 2>&1
t3=$(ts)
rm -rf .venv
t4=$(ts)
.tools/bin/uv sync --frozen --inexact --no-dev --package sweepkit-cli -q
t5=$(ts)
L1=$(cut -d' ' -f1 /proc/loadavg)
packages=$(.tools/bin/uv pip list --python .venv 2>/dev/null | tail -n +3 | wc -l)
echo "$LABEL: bootstrap $(since "$t0" "$t1") s | sync $(since "$t1" "$t2") s (install alone $(since "$t4" "$t5") s)" \
    "| sweep $(since "$t2" "$t3") s | to summary $(since "$t0" "$t3") s | packages $packages," \
    "uv cache $(du -sm "$UV_CACHE_DIR" | cut -f1) MB, venv $(du -sm .venv | cut -f1) MB | load $L0 -> $L1"
cd /
rm -rf "$W"
