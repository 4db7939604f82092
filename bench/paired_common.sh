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

# summarize UNIT VALUE...: the median and quartiles of the pairs' ratios.
summarize() {
  "$PY" -c 'import statistics, sys
unit, r = sys.argv[1], [float(x) for x in sys.argv[2:]]
f = ".1f" if unit == "%" else ".3f"
m, q = statistics.median(r), statistics.quantiles(r, n=4)
print(f"median of {len(r)} pairs: {m:{f}}{unit} (quartiles {q[0]:{f}}-{q[2]:{f}}{unit})")' "$@"
}
