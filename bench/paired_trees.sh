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
PY=$(command -v "${PYTHON:-python3}")
OUT=$(mktemp -d)
free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
DB_PORT=$(free_port); A_PORT=$(free_port); B_PORT=$(free_port)
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap cleanup EXIT
taskset -c 1 "$PY" -m secantus --host 127.0.0.1 --port "$DB_PORT" --storage-path :memory: --log-level WARNING >"$OUT/db.log" 2>&1 & pids+=($!)
export JWT_SECRET=$("$PY" -c 'import secrets; print(secrets.token_urlsafe(48))')
export MONGO_URI="mongodb://127.0.0.1:$DB_PORT/pairedtrees" BCRYPT_ROUNDS=10 JWT_EXPIRES_IN=1h
export AUTHKIT_SIGNIN_LIMIT_ACCOUNT=off AUTHKIT_SIGNIN_LIMIT_ADDRESS=off
uvicorn=(-m uvicorn --no-access-log --log-level warning app:app)
(cd "$A" && PYTHONPATH="$A" exec taskset -c 0 "$PY" "${uvicorn[@]}" --port "$A_PORT") >"$OUT/a.log" 2>&1 & pids+=($!)
(cd "$B" && PYTHONPATH="$B" exec taskset -c 0 "$PY" "${uvicorn[@]}" --port "$B_PORT") >"$OUT/b.log" 2>&1 & pids+=($!)
for _ in $(seq 100); do
  curl -sf -o /dev/null "localhost:$A_PORT/healthz" && curl -sf -o /dev/null "localhost:$B_PORT/healthz" && break
  sleep 0.3
done
body='{"username":"paireduser","password":"PairedPass123"}'
curl -s -o /dev/null -X POST "localhost:$A_PORT/auth/signup" -H 'Content-Type: application/json' -d "$body"
TOKEN=$(curl -s -X POST "localhost:$A_PORT/auth/signin" -H 'Content-Type: application/json' -d "$body" |
  "$PY" -c 'import json, sys; print(json.load(sys.stdin)["accessToken"])')
rps() { taskset -c 1 wrk -t1 -c32 -d"$2"s --timeout 10s -H "Authorization: Bearer $TOKEN" "$1" | awk '/^Requests\/sec/{print $2}'; }
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
"$PY" -c "import statistics, sys; r = [float(x) for x in sys.argv[1:]]; q = statistics.quantiles(r, n=4); print(f'B / A, median of {len(r)} pairs: {statistics.median(r):.1f}% (quartiles {q[0]:.1f}-{q[2]:.1f}%)')" "${ratios[@]}"
echo "A: $A ($(git -C "$A" rev-parse --short HEAD 2>/dev/null)); B: $B ($(git -C "$B" rev-parse --short HEAD 2>/dev/null)); logs in $OUT"
