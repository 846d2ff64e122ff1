#!/usr/bin/env bash
# Runs the whole browser test set three times in a row while two CPU-busy loops keep two cores
# occupied, stopping at the first failing round. Prints pass/fail per round; exits non-zero on
# a failure. The busy loops end with the script, however it ends.
#
#   scripts/e2e-under-load.sh            three rounds
#   ROUNDS=5 BUSY_LOOPS=2 scripts/e2e-under-load.sh
set -u

cd "$(dirname "$0")/.."

ROUNDS="${ROUNDS:-3}"
BUSY_LOOPS="${BUSY_LOOPS:-2}"
PYTHON="${PYTHON:-.venv/bin/python}"
busy_pids=()

stop_busy_loops() {
    for pid in "${busy_pids[@]}"; do
        kill "$pid" 2>/dev/null
    done
    for pid in "${busy_pids[@]}"; do
        wait "$pid" 2>/dev/null
    done
    busy_pids=()
}
trap stop_busy_loops EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

for _ in $(seq "$BUSY_LOOPS"); do
    python3 -c 'while True: pass' &
    busy_pids+=("$!")
done
echo "load: ${BUSY_LOOPS} busy loops (pids ${busy_pids[*]}) on $(nproc) cores"

for round in $(seq "$ROUNDS"); do
    started=$SECONDS
    if "$PYTHON" -m pytest -m e2e tests/e2e -q; then
        echo "round ${round}/${ROUNDS}: pass ($((SECONDS - started)) s)"
    else
        echo "round ${round}/${ROUNDS}: FAIL ($((SECONDS - started)) s)"
        exit 1
    fi
done
echo "all ${ROUNDS} rounds passed under load"
