#!/usr/bin/env bash
# The test suite under load: runs the README's test command (deno task test)
# RUNS times in a row (default 5) with two CPU burners running beside it,
# and prints each run's result and the tests that failed. A suite that
# depends on timing goes red here; weft's must stay green.
#
#   tools/loaded_test.sh            # 5 runs of the whole suite
#   tools/loaded_test.sh 3          # 3 runs
#   tools/loaded_test.sh 5 tests/faults/ tests/router/   # a subset, same flags
#
# Also `deno task test:loaded`. The burners are processes this script starts
# and stops by pid (each also bounded by `timeout`, so none outlives a killed
# script by more than BURN_LIMIT seconds, default 4 hours); logs go to
# LOG_DIR (default a new temporary directory), one file per run. Exits 0 only
# if every run passed.
set -uo pipefail
cd "$(dirname "$0")/.."

RUNS="${1:-5}"
shift || true
if ! [[ "$RUNS" =~ ^[1-9][0-9]*$ ]] || [ "$RUNS" -gt 100 ]; then
  echo "usage: tools/loaded_test.sh [RUNS (1-100)] [test paths ...]" >&2
  exit 2
fi
BURNERS="${BURNERS:-2}"
BURN_LIMIT="${BURN_LIMIT:-14400}"
LOG_DIR="${LOG_DIR:-$(mktemp -d -t weft-loaded-XXXXXX)}"
mkdir -p "$LOG_DIR"
if command -v deno >/dev/null 2>&1 && deno --version | grep -q '^deno 2\.9\.6'; then
  DENO=(deno)
else
  DENO=(npx -y deno@2.9.6)
fi
if [ "$#" -gt 0 ]; then
  COMMAND=("${DENO[@]}" test -A --sanitize-ops --sanitize-resources "$@")
else
  COMMAND=("${DENO[@]}" task test)
fi

pids=()
stop_burners() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null; done
  pids=()
}
trap stop_burners EXIT
trap 'stop_burners; exit 130' INT TERM
for _ in $(seq "$BURNERS"); do
  timeout "$BURN_LIMIT" sh -c 'while :; do :; done' &
  pids+=("$!")
done
echo "loaded test: ${RUNS} run(s) of: ${COMMAND[*]}"
echo "burners: ${BURNERS} (pids ${pids[*]}); load average: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null); logs: ${LOG_DIR}"

failed_runs=0
for run in $(seq "$RUNS"); do
  log="${LOG_DIR}/run${run}.log"
  started=$(date +%s)
  "${COMMAND[@]}" >"$log" 2>&1
  code=$?
  took=$(($(date +%s) - started))
  # Deno's summary line, without its colours.
  summary=$(sed 's/\x1b\[[0-9;]*m//g' "$log" | grep -E '^(ok|FAILED) \| ' | tail -1)
  if [ "$code" -eq 0 ]; then
    echo "run ${run}: green in ${took} s: ${summary:-no summary} (load average $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null))"
  else
    failed_runs=$((failed_runs + 1))
    echo "run ${run}: RED (exit ${code}) in ${took} s: ${summary:-no summary}; log ${log}"
    sed 's/\x1b\[[0-9;]*m//g' "$log" | sed -n '/^ FAILURES /,$p' | grep -E ' => ' | sed 's/^/  failed: /'
  fi
done
stop_burners
echo "loaded test: $((RUNS - failed_runs)) of ${RUNS} run(s) green"
[ "$failed_runs" -eq 0 ]
