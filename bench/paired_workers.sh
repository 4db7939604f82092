#!/usr/bin/env bash
# What a second worker adds, authkit's GET /auth/me beside the Starlette hello's GET /,
# measured in rounds of four back-to-back windows.
#
#   usage: [PYTHON=.venv/bin/python] bench/paired_workers.sh [ROUNDS]   e.g. ... 10
#          AUTHKIT_ACCESS_LOG=false bench/paired_workers.sh   (any authkit setting passes through)
#
# bench/run.py's workers scenario starts each server afresh, minutes apart, and on this
# shared machine a server's req/s moves by 20-30% in that time. Here four servers run at
# once, only the one under load busy: authkit with `authkit serve --workers 1` on CPU 0 and
# `--workers 2` on CPUs 0,1, and the hello with `uvicorn --workers 1` and `--workers 2` the
# same way. wrk (on CPU 1, which it shares with the second worker and the database) loads
# each for 3 s per round, the order reversed every other round; each round gives two
# ratios, two workers ÷ one for authkit and for the hello, and the medians are the figures.
set -euo pipefail
ROUNDS=${1:-10}
[ "$ROUNDS" -ge 2 ] 2>/dev/null || { echo "usage: bench/paired_workers.sh [ROUNDS (2 or more)]" >&2; exit 2; }
HERE="$(cd "$(dirname "$0")" && pwd)"
source "$HERE/paired_common.sh"
DB_PORT=$(free_port)
start_database "$DB_PORT"
export MONGO_URI="mongodb://127.0.0.1:$DB_PORT/pairedworkers"
declare -A PORT CPUS=([1]=0 [2]=0,1)
for n in 1 2; do
  PORT[ak$n]=$(free_port); PORT[hello$n]=$(free_port)
  (cd "$ROOT" && exec taskset -c "${CPUS[$n]}" "$PY" -m authkit serve --workers "$n" \
    --host 127.0.0.1 --port "${PORT[ak$n]}" --log-level warning) >"$OUT/authkit$n.log" 2>&1 & pids+=($!)
  (cd "$HERE" && exec taskset -c "${CPUS[$n]}" "$PY" -m uvicorn --no-access-log --log-level warning \
    --workers "$n" hello_starlette:app --port "${PORT[hello$n]}") >"$OUT/hello$n.log" 2>&1 & pids+=($!)
done
up() { curl -sf -o /dev/null "localhost:${PORT[$1]}/$2"; }
for _ in $(seq 200); do
  up ak1 healthz && up ak2 healthz && up hello1 "" && up hello2 "" && break
  sleep 0.3
done
for server in ak1 ak2; do up "$server" healthz || { echo "$server did not start:" >&2; tail -5 "$OUT/authkit${server#ak}.log" >&2; exit 1; }; done
# Both authkits share the database: one user, and its token is good on either.
TOKEN=$(bench_token "${PORT[ak1]}" '{"username":"workersuser","password":"WorkersPass123"}')
sleep 3  # uvicorn's --workers: every worker listening before the first window

rps() {  # rps SERVER SECONDS
  case $1 in
    ak*) wrk_rps "http://127.0.0.1:${PORT[$1]}/auth/me" "$2" "Authorization: Bearer $TOKEN" ;;
    *) wrk_rps "http://127.0.0.1:${PORT[$1]}/" "$2" ;;
  esac
}
for server in ak1 ak2 hello1 hello2; do rps "$server" 2 >/dev/null; done  # warm all up

echo "| round | authkit, 1 worker | 2 workers | authkit 2 ÷ 1 | hello, 1 worker | 2 workers | hello 2 ÷ 1 |"
echo "|---|---|---|---|---|---|---|"
ak_gains=(); hello_gains=(); shares=()
order=(ak1 ak2 hello1 hello2)
for i in $(seq "$ROUNDS"); do
  declare -A got=()
  servers=("${order[@]}")
  [ $((i % 2)) -eq 0 ] && servers=(hello2 hello1 ak2 ak1)
  for server in "${servers[@]}"; do got[$server]=$(rps "$server" 3); done
  ak=$("$PY" -c "print(f'{${got[ak2]} / ${got[ak1]}:.3f}')")
  hello=$("$PY" -c "print(f'{${got[hello2]} / ${got[hello1]}:.3f}')")
  ak_gains+=("$ak"); hello_gains+=("$hello")
  shares+=("$("$PY" -c "print(f'{($ak - 1) / ($hello - 1) * 100 if $hello > 1 else 0:.1f}')")")
  echo "| $i | ${got[ak1]} | ${got[ak2]} | ${ak}x | ${got[hello1]} | ${got[hello2]} | ${hello}x |"
done
echo -n "authkit, two workers ÷ one: "; summarize x "${ak_gains[@]}"
echo -n "hello, two workers ÷ one:   "; summarize x "${hello_gains[@]}"
echo -n "authkit's gain (2 ÷ 1 - 1) as a share of the hello's: "; summarize % "${shares[@]}"
echo "settings: ${AUTHKIT_ACCESS_LOG:+AUTHKIT_ACCESS_LOG=$AUTHKIT_ACCESS_LOG }$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null); logs in $OUT"
