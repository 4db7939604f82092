# Sourced by paired.sh, paired_trees.sh and paired_signin.sh: what every paired measurement
# sets up. Needs HERE (the bench folder) set by the caller.
#   PYTHON: the interpreter of the venv authkit and its `embedded` extra are installed in.
PY=$(command -v "${PYTHON:-python3}")
"$PY" -c "import secantus" 2>/dev/null ||
  { echo "no SecantusDB in $PY: pip install -e '.[embedded]' there, or set PYTHON" >&2; exit 2; }
ROOT="$(dirname "$HERE")"
OUT=$(mktemp -d)
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap cleanup EXIT

free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# start_database PORT: a SecantusDB in memory on CPU 1, beside wrk.
start_database() {
  taskset -c 1 "$PY" -m secantus --host 127.0.0.1 --port "$1" --storage-path :memory: \
    --log-level WARNING >"$OUT/db.log" 2>&1 & pids+=($!)
}

# authkit's settings for a benchmark, as bench/run.py's: bcrypt cost 10, all else as shipped
# (the sign-in limits count failures; the load's signins all succeed).
export JWT_SECRET=$("$PY" -c 'import secrets; print(secrets.token_urlsafe(48))')
export BCRYPT_ROUNDS=10 JWT_EXPIRES_IN=1h

# wrk_rps URL SECONDS [HEADER]: req/s of GET URL from wrk on CPU 1, 32 connections.
wrk_rps() {
  taskset -c 1 wrk -t1 -c32 -d"$2"s --timeout 10s -H "${3:-X-Bench: 1}" "$1" | awk '/^Requests\/sec/{print $2}'
}

# bench_token PORT BODY: sign the user of the JSON credentials BODY up (if new) on the
# authkit at PORT, and print an access token for it.
bench_token() {
  curl -s -o /dev/null -X POST "localhost:$1/auth/signup" -H 'Content-Type: application/json' -d "$2"
  curl -s -X POST "localhost:$1/auth/signin" -H 'Content-Type: application/json' -d "$2" |
    "$PY" -c 'import json, sys; print(json.load(sys.stdin)["accessToken"])'
}

# summarize UNIT VALUE...: the median and quartiles of the pairs' ratios.
summarize() {
  "$PY" -c 'import statistics, sys
unit, r = sys.argv[1], [float(x) for x in sys.argv[2:]]
f = ".1f" if unit == "%" else ".3f"
m, q = statistics.median(r), statistics.quantiles(r, n=4)
print(f"median of {len(r)} pairs: {m:{f}}{unit} (quartiles {q[0]:{f}}-{q[2]:{f}}{unit})")' "$@"
}
