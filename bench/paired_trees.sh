#!/usr/bin/env bash
# Two checkouts of authkit side by side: tree B's req/s as a share of tree A's, in pairs.
#
#   usage: [PYTHON=.venv/bin/python] bench/paired_trees.sh PAIRS TREE_A TREE_B [PATH]
#   e.g.   git worktree add /tmp/before 48ea7eb && bench/paired_trees.sh 12 /tmp/before .
#
# What bench/paired.sh does for authkit and hello, for two versions of authkit: both on
# CPU 0 (only the one under load is busy), wrk on CPU 1 loading each in turn for 3 s, the
# order alternating, one SecantusDB in memory on CPU 1; the median of the pairs' ratios is
# the figure. Each tree runs its own code (PYTHONPATH) with PYTHON's packages.
set -euo pipefail
[ $# -ge 3 ] || { echo "usage: bench/paired_trees.sh PAIRS TREE_A TREE_B [PATH]" >&2; exit 2; }
PAIRS=$1; A=$(cd "$2" && pwd); B=$(cd "$3" && pwd); P=${4:-/auth/me}
HERE="$(cd "$(dirname "$0")" && pwd)"
source "$HERE/paired_common.sh"
DB_PORT=$(free_port); A_PORT=$(free_port); B_PORT=$(free_port)
start_database "$DB_PORT"
export MONGO_URI="mongodb://127.0.0.1:$DB_PORT/pairedtrees"
uvicorn=(-m uvicorn --no-access-log --log-level warning app:app)
(cd "$A" && PYTHONPATH="$A" exec taskset -c 0 "$PY" "${uvicorn[@]}" --port "$A_PORT") >"$OUT/a.log" 2>&1 & pids+=($!)
(cd "$B" && PYTHONPATH="$B" exec taskset -c 0 "$PY" "${uvicorn[@]}" --port "$B_PORT") >"$OUT/b.log" 2>&1 & pids+=($!)
for _ in $(seq 100); do
  curl -sf -o /dev/null "localhost:$A_PORT/healthz" && curl -sf -o /dev/null "localhost:$B_PORT/healthz" && break
  sleep 0.3
done
TOKEN=$(bench_token "$A_PORT" '{"username":"paireduser","password":"PairedPass123"}')
rps() { wrk_rps "$1" "$2" "Authorization: Bearer $TOKEN"; }
rps "http://127.0.0.1:$A_PORT$P" 2 >/dev/null; rps "http://127.0.0.1:$B_PORT$P" 2 >/dev/null  # warm up

echo "| pair | A req/s | B req/s | B / A |"
echo "|---|---|---|---|"
ratios=()
for i in $(seq "$PAIRS"); do
  if [ $((i % 2)) -eq 1 ]; then a=$(rps "http://127.0.0.1:$A_PORT$P" 3); b=$(rps "http://127.0.0.1:$B_PORT$P" 3)
  else b=$(rps "http://127.0.0.1:$B_PORT$P" 3); a=$(rps "http://127.0.0.1:$A_PORT$P" 3); fi
  ratio=$("$PY" -c "print(f'{$b / $a * 100:.1f}')"); ratios+=("$ratio")
  echo "| $i | $a | $b | $ratio% |"
done
echo "B / A, $(summarize % "${ratios[@]}")"
echo "A: $A ($(git -C "$A" rev-parse --short HEAD 2>/dev/null)); B: $B ($(git -C "$B" rev-parse --short HEAD 2>/dev/null)); logs in $OUT"
