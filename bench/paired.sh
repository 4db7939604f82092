#!/usr/bin/env bash
# authkit's share of the Starlette hello, measured in pairs a few seconds apart.
#
#   usage: [PYTHON=.venv/bin/python] bench/paired.sh [PAIRS] [PATH]   e.g. ... 12 /auth/me
#          AUTHKIT_ACCESS_LOG=false bench/paired.sh      (any authkit setting passes through)
#   PYTHON: the interpreter of the venv authkit and its `embedded` extra are installed in.
#
# On a shared machine a server's req/s moves by 20-30% from one minute to the next, which
# bench/run.py's rounds (minutes apart) turn into wide spreads of the ratio. Here both
# servers run at once on CPU 0 (only the one under load is busy), and wrk on CPU 1 loads
# them in turn, 3 s each, the order alternating: each pair is measured under the same
# conditions, and the median of the pairs' ratios is the figure. The database is a
# SecantusDB in memory on CPU 1 (installed with the `embedded` extra); authkit's stderr,
# its access lines included, goes to a file as under bench/run.py (PAIRED_AUTHKIT_LOG=path
# to choose another, /dev/null included).
set -euo pipefail
PAIRS=${1:-12}
[ "$PAIRS" -ge 2 ] 2>/dev/null || { echo "usage: bench/paired.sh [PAIRS (2 or more)] [PATH]" >&2; exit 2; }
AUTHKIT_PATH=${2:-/auth/me}
HERE="$(cd "$(dirname "$0")" && pwd)"
source "$HERE/paired_common.sh"
DB_PORT=$(free_port); AK_PORT=$(free_port); HELLO_PORT=$(free_port)
start_database "$DB_PORT"
export MONGO_URI="mongodb://127.0.0.1:$DB_PORT/paired"
uvicorn=(-m uvicorn --no-access-log --log-level warning)
(cd "$ROOT" && exec taskset -c 0 "$PY" "${uvicorn[@]}" app:app --port "$AK_PORT") >"${PAIRED_AUTHKIT_LOG:-$OUT/authkit.log}" 2>&1 & pids+=($!)
(cd "$HERE" && exec taskset -c 0 "$PY" "${uvicorn[@]}" hello_starlette:app --port "$HELLO_PORT") >"$OUT/hello.log" 2>&1 & pids+=($!)
for _ in $(seq 100); do
  curl -sf -o /dev/null "localhost:$AK_PORT/healthz" && curl -sf -o /dev/null "localhost:$HELLO_PORT/" && break
  sleep 0.3
done
curl -sf -o /dev/null "localhost:$AK_PORT/healthz" || { echo "authkit did not start:" >&2; tail -5 "$OUT/authkit.log" >&2; exit 1; }
TOKEN=$(bench_token "$AK_PORT" '{"username":"paireduser","password":"PairedPass123"}')

authkit_rps() { wrk_rps "http://127.0.0.1:$AK_PORT$AUTHKIT_PATH" "$1" "Authorization: Bearer $TOKEN"; }
hello_rps() { wrk_rps "http://127.0.0.1:$HELLO_PORT/" "$1"; }
authkit_rps 2 >/dev/null; hello_rps 2 >/dev/null  # warm both up

echo "| pair | authkit $AUTHKIT_PATH req/s | hello req/s | authkit / hello |"
echo "|---|---|---|---|"
ratios=()
for i in $(seq "$PAIRS"); do
  if [ $((i % 2)) -eq 1 ]; then a=$(authkit_rps 3); h=$(hello_rps 3); else h=$(hello_rps 3); a=$(authkit_rps 3); fi
  ratio=$("$PY" -c "print(f'{$a / $h * 100:.1f}')")
  ratios+=("$ratio")
  echo "| $i | $a | $h | $ratio% |"
done
summarize % "${ratios[@]}"
echo "settings: ${AUTHKIT_ACCESS_LOG:+AUTHKIT_ACCESS_LOG=$AUTHKIT_ACCESS_LOG }$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null); logs in $OUT"
