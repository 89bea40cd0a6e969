#!/usr/bin/env bash
# `make clean`: say what will be removed — the environment, the caches and every run in the results
# directory — and ask first. YES=1 removes without asking; without a terminal and without YES=1 it
# removes nothing (a piped or scheduled `make clean` must not delete results on a guess).
#   usage: scripts/clean.sh OUT   (run from the repository's root)
set -euo pipefail
out="${1:-sweep-results}"
paths=(.venv .tools "$out" build .pytest_cache .mypy_cache .ruff_cache .hypothesis)
present=()
for path in "${paths[@]}"; do
    [[ -e "$path" ]] && present+=("$path")
done
if [[ ${#present[@]} -eq 0 ]]; then
    echo "make clean: nothing to remove"
    exit 0
fi
echo "make clean removes: ${present[*]}"
if [[ -d "$out/runs" ]]; then
    runs=("$out"/runs/run_id=*)
    if [[ -e "${runs[0]}" ]]; then
        echo "  with every run in $out/ (${#runs[@]}):"
        for run in "${runs[@]:0:20}"; do echo "    ${run##*/run_id=}"; done
        [[ ${#runs[@]} -gt 20 ]] && echo "    … and $(( ${#runs[@]} - 20 )) more"
    fi
fi
if [[ "${YES:-}" != 1 ]]; then
    if [[ ! -t 0 ]]; then
        echo "make clean: nothing was removed: it asks first, and its input is not a terminal; run \`make clean YES=1\`" >&2
        exit 1
    fi
    read -r -p "remove them? [y/N] " answer
    if [[ "$answer" != y && "$answer" != Y && "$answer" != yes ]]; then
        echo "make clean: nothing was removed"
        exit 1
    fi
fi
rm -rf "${present[@]}"
echo "make clean: removed ${present[*]}"
