#!/usr/bin/env bash
# Distributed trials (issue 20, item 6): the bookkeeping a shared PostgreSQL trial store and its workers cost. A throwaway
# server on loopback (bench/pg.sh); for each number of worker processes W in WORKERS (one trial at a time each) and each
# trial length S in SECONDS_LIST (synthetic work: a wait, no CPU, so what is measured is the claim / heartbeat / result
# traffic), `shrink study synthetic` coordinates PER_WORKER×W trials (at least 2 per slot) and the workers, started and
# idle beforehand (stopped with SIGTERM once the coordinator ends), run them. From the store's own (server) times: makespan = last finish − first creation; ideal = N·S/W;
# overhead = makespan / ideal − 1 (targets: ≤ 2 % at 10 s, ≤ 10 % at 0.5 s); per trial = (makespan·W − N·S) / N.
# Then a soak: SOAK trials of 0 s on 8 workers, checked for 0 duplicates (distinct hashes), 0 lost (all completed), 0 errors.
# Usage: [WORKERS=1,2,4,8] [SECONDS_LIST=0.5,10] [PER_WORKER=8] [PER_WORKER_LONG=2] [SOAK=10000] bench/distributed.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/common.sh
source bench/pg.sh
workers_list=${WORKERS:-1,2,4,8}
seconds_list=${SECONDS_LIST:-0.5,10}
per_worker=${PER_WORKER:-8}
per_worker_long=${PER_WORKER_LONG:-2}
soak=${SOAK:-10000}
dll=src/Shrink.Cli/bin/Release/net10.0/Shrink.Cli.dll
sql() { psql -X -q -t -A -F ' ' "$PG_URL" -c "$1"; }
# the schema and its tables, so the workers find them before the first study
dotnet "$dll" study status --storage "$PG_URL?schema=bench" >/dev/null
log=$(mktemp -d)

# wait_workers PID...: until every worker has written its first heartbeat (they are up and polling).
wait_workers() {
  local list
  list=$(IFS=,; echo "$*")
  until [ "$(sql "SELECT count(*) FROM bench.workers WHERE pid IN ($list)" 2>/dev/null || echo 0)" = "$#" ]; do sleep 0.2; done
}

# run STUDY W S N: W idle workers, then the coordinator of N trials of S seconds; prints the measured row.
run() {
  local study=$1 w=$2 s=$3 n=$4 url="$PG_URL?schema=bench" pids=()
  for i in $(seq 1 "$w"); do
    dotnet "$dll" worker --storage "$url" --threads 1 --lease 30 >"$log/$study-w$i.out" 2>"$log/$study-w$i.err" &
    pids+=($!)
  done
  wait_workers "${pids[@]}"
  dotnet "$dll" study synthetic --storage "$url" --study "$study" --trials "$n" --seconds "$s" --queue "$w" >"$log/$study-c.out" 2>"$log/$study-c.err" &
  local coordinator=$!
  wait "$coordinator"
  kill -TERM "${pids[@]}" 2>/dev/null || true   # done: the workers stop (nothing is running)
  for p in "${pids[@]}"; do wait "$p" || true; done
  sql "SELECT count(*), count(DISTINCT t.hash), sum(CASE WHEN status = 'completed' THEN 1 ELSE 0 END), sum(attempts),
         extract(epoch FROM max(finished) - min(t.created))
       FROM bench.trials t JOIN bench.studies s ON s.id = t.study_id WHERE s.name = '$study'"
}

echo "| workers | trial s | trials | makespan s | ideal s | overhead | per trial ms | duplicates | lost |"
echo "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
for s in ${seconds_list//,/ }; do
  for w in ${workers_list//,/ }; do
    k=$per_worker
    [ "$(python3 -c "print(1 if $s >= 5 else 0)")" = 1 ] && k=$per_worker_long
    n=$((w * k))
    read -r total distinct completed attempts makespan < <(run "w$w-s${s/./_}" "$w" "$s" "$n")
    python3 - "$w" "$s" "$n" "$total" "$distinct" "$completed" "$makespan" <<'PY'
import sys
w, s, n, total, distinct, completed, makespan = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]), float(sys.argv[7])
ideal = n * s / w
print(f"| {w} | {s:g} | {n} | {makespan:.2f} | {ideal:.2f} | {100 * (makespan / ideal - 1):+.1f} % | {1000 * (makespan * w - n * s) / n:.0f} | {total - distinct} | {n - completed} |")
PY
  done
done

if [ "$soak" -gt 0 ]; then
  url="$PG_URL?schema=bench"
  pids=()
  for i in $(seq 1 8); do
    dotnet "$dll" worker --storage "$url" --threads 1 --lease 30 >"$log/soak-w$i.out" 2>"$log/soak-w$i.err" &
    pids+=($!)
  done
  wait_workers "${pids[@]}"
  start=$(date +%s.%N)
  dotnet "$dll" study synthetic --storage "$url" --study soak --trials "$soak" --seconds 0 --queue 16 >"$log/soak-c.out" 2>"$log/soak-c.err"
  kill -TERM "${pids[@]}" 2>/dev/null || true
  errors=0
  for p in "${pids[@]}"; do rc=0; wait "$p" || rc=$?; [ "$rc" -eq 0 ] || [ "$rc" -eq 130 ] || errors=$((errors + 1)); done
  end=$(date +%s.%N)
  read -r total distinct completed attempts late < <(sql "SELECT count(*), count(DISTINCT t.hash), sum(CASE WHEN status = 'completed' THEN 1 ELSE 0 END), sum(attempts),
      (SELECT count(*) FROM bench.late_results) FROM bench.trials t JOIN bench.studies s ON s.id = t.study_id WHERE s.name = 'soak'")
  deadlocks=$(grep -il "deadlock" "$log"/*.err | wc -l || true)
  failures=$(cat "$log"/soak-*.err | grep -c "^error\|internal error" || true)
  python3 - "$soak" "$total" "$distinct" "$completed" "$attempts" "$late" "$start" "$end" "$deadlocks" "$failures" "$errors" <<'PY'
import sys
n, total, distinct, completed, attempts, late = map(int, sys.argv[1:7]); start, end = float(sys.argv[7]), float(sys.argv[8])
deadlocks, failures, errors = map(int, sys.argv[9:12])
print(f"\nsoak: {n} trials of 0 s on 8 workers in {end - start:.0f} s ({n / (end - start):.0f} trials/s): "
      f"{total - distinct} duplicates, {n - completed} lost, {attempts - n} retried, {late} late, {deadlocks} deadlock errors, "
      f"{failures} error lines, {errors} workers exited non-zero")
PY
fi
rm -rf "$log"
