#!/usr/bin/env bash
# Signins per second, authkit against the FastAPI-Users peer, measured in pairs.
#
#   usage: [PYTHON=.venv/bin/python] bench/paired_signin.sh [PAIRS] [SECONDS]   e.g. ... 8 10
#   PEER_VENV: the peer's venv (default .bench/peer-venv, which `python bench/run.py
#   --targets peer` installs); SHARED: the shared folder (default ../shared).
#
# bench/run.py measures the two servers minutes apart, and signins follow bcrypt's speed,
# which on this shared machine moves by 10% in that time. Here both servers run at once
# on CPU 0 (only the one under load is busy), against one SecantusDB on CPU 1, and wrk on
# CPU 1 sends `bench/signin.lua` (32 connections) to each in turn, SECONDS each, the order
# alternating; the median of the pairs' ratios is the figure. Both use bcrypt cost 10.
set -euo pipefail
PAIRS=${1:-8}
SECONDS_EACH=${2:-10}
HERE="$(cd "$(dirname "$0")" && pwd)"
source "$HERE/paired_common.sh"
PEER_VENV=${PEER_VENV:-$ROOT/.bench/peer-venv}
PEER_DIR=${SHARED:-$ROOT/../shared}/reference/fastapi-users-peer
[ -x "$PEER_VENV/bin/uvicorn" ] || { echo "no peer venv at $PEER_VENV: run python bench/run.py --targets peer once, or set PEER_VENV" >&2; exit 2; }
[ -f "$PEER_DIR/run.sh" ] || { echo "no peer at $PEER_DIR: set SHARED" >&2; exit 2; }
DB_PORT=$(free_port); AK_PORT=$(free_port); PEER_PORT=$(free_port)
start_database "$DB_PORT"
(cd "$ROOT" && MONGO_URI="mongodb://127.0.0.1:$DB_PORT/pairedauthkit" exec taskset -c 0 "$PY" -m uvicorn \
  --no-access-log --log-level warning app:app --port "$AK_PORT") >"$OUT/authkit.log" 2>&1 & pids+=($!)
(MONGO_URI="mongodb://127.0.0.1:$DB_PORT/pairedpeer" PORT=$PEER_PORT VENV=$PEER_VENV \
  exec taskset -c 0 bash "$PEER_DIR/run.sh") >"$OUT/peer.log" 2>&1 & pids+=($!)
body='{"username":"benchuser","password":"BenchPass123"}'
for port in "$AK_PORT" "$PEER_PORT"; do
  for _ in $(seq 100); do curl -s -o /dev/null "localhost:$port/auth/signup" -X POST -H 'Content-Type: application/json' -d "$body" && break; sleep 0.3; done
  [ "$(curl -s -o /dev/null -w '%{http_code}' -X POST "localhost:$port/auth/signin" -H 'Content-Type: application/json' -d "$body")" = 201 ] \
    || { echo "signin on port $port failed; logs in $OUT" >&2; exit 1; }
done

rate() {  # rate PORT SECONDS
  taskset -c 1 wrk -t1 -c32 -d"$2"s --timeout 30s -s "$HERE/signin.lua" "http://127.0.0.1:$1/auth/signin" |
    awk '/^Requests\/sec/{print $2}'
  # wrk's last 32 signins are still queued in the server (3 s of bcrypt): let them finish
  # before the other server's turn, or they would take its CPU.
  sleep 5
}
rate "$AK_PORT" 3 >/dev/null; rate "$PEER_PORT" 3 >/dev/null  # warm both up

echo "| pair | authkit signin/s | peer signin/s | authkit / peer |"
echo "|---|---|---|---|"
ratios=()
for i in $(seq "$PAIRS"); do
  if [ $((i % 2)) -eq 1 ]; then a=$(rate "$AK_PORT" "$SECONDS_EACH"); p=$(rate "$PEER_PORT" "$SECONDS_EACH")
  else p=$(rate "$PEER_PORT" "$SECONDS_EACH"); a=$(rate "$AK_PORT" "$SECONDS_EACH"); fi
  ratio=$("$PY" -c "print(f'{$a / $p:.3f}')")
  ratios+=("$ratio")
  echo "| $i | $a | $p | ${ratio}x |"
done
summarize x "${ratios[@]}"
echo "commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null); logs in $OUT"
