#!/usr/bin/env bash
# HTTP benchmark of POST /api/customers and GET /api/identity/kyc/{id}, driven by wrk over
# loopback, against SQLite and then PostgreSQL. Prints the median of RUNS runs of each.
# Needs: wrk (apt-get install wrk), a PostgreSQL at $PG_ADMIN_URL for the second half.
# Note that wrk and the server share this machine's cores.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-16}
RUNS=${RUNS:-3}
BACKENDS=${BACKENDS:-"sqlite postgres"}
PG_ADMIN_URL=${PG_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}
PORT=${PORT:-18181}
export KENALI_BENCH_KEY="qe_sk_bench_$(od -An -tx1 -N12 /dev/urandom | tr -d ' \n')"

cargo build --release --bin kenali >/dev/null
BIN=target/release/kenali

median() { python3 -c 'import statistics,sys; print(statistics.median(float(x) for x in sys.argv[1:]))' "$@"; }
# wrk prints "Requests/sec: N" and, with --latency, "99% 4.21ms".
rps_of() { awk '/Requests\/sec/ {print $2}' "$1"; }
p99_ms_of() {
  awk '$1=="99%" {v=$2; if (v ~ /us$/) {sub(/us/,"",v); v=v/1000} else if (v ~ /ms$/) {sub(/ms/,"",v)} else if (v ~ /s$/) {sub(/s/,"",v); v=v*1000}; print v}' "$1"
}

for backend in $BACKENDS; do
  data_dir=$(mktemp -d)
  env_vars=(KENALI_DATA_DIR="$data_dir" KENALI_LISTEN="127.0.0.1:$PORT" KENALI_LOG=warn
            KENALI_BOOTSTRAP_API_KEY="$KENALI_BENCH_KEY" KENALI_DATABASE_MAX_CONNECTIONS=16)
  if [ "$backend" = postgres ]; then
    db="kenali_bench_$$"
    psql "$PG_ADMIN_URL" -qc "CREATE DATABASE $db" >/dev/null
    env_vars+=(KENALI_DATABASE_URL="${PG_ADMIN_URL%/*}/$db" KENALI_MASTER_KEY="$(head -c32 /dev/urandom | base64)")
  fi
  env "${env_vars[@]}" "$BIN" serve &
  server=$!
  for _ in $(seq 1 50); do curl -fs "http://127.0.0.1:$PORT/api/healthz" >/dev/null && break; sleep 0.2; done
  customer=$(curl -fs -X POST "http://127.0.0.1:$PORT/api/customers" -H "Authorization: Bearer $KENALI_BENCH_KEY" \
    -H 'Content-Type: application/json' -d '{"fullName":"Kyc Probe","nik":"3201010101900001"}' |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["customer"]["id"])')
  for name in post_customers get_kyc; do
    rps=(); p99=()
    for run in $(seq 1 "$RUNS"); do
      out=$(mktemp)
      if [ $name = post_customers ]; then
        wrk -t2 -c"$CONNECTIONS" -d"$DURATION" --latency -s bench/post_customer.lua "http://127.0.0.1:$PORT/api/customers" >"$out"
      else
        wrk -t2 -c"$CONNECTIONS" -d"$DURATION" --latency -s bench/get_kyc.lua "http://127.0.0.1:$PORT/api/identity/kyc/$customer" >"$out"
      fi
      if grep -q "Non-2xx" "$out"; then echo "$backend $name: non-2xx responses:"; cat "$out"; fi
      rps+=("$(rps_of "$out")"); p99+=("$(p99_ms_of "$out")")
      rm -f "$out"
    done
    printf '%-8s %-15s median %8.0f req/s   median p99 %7.2f ms   (runs: %s req/s)\n' \
      "$backend" "$name" "$(median "${rps[@]}")" "$(median "${p99[@]}")" "${rps[*]}"
  done
  kill "$server"; wait "$server" 2>/dev/null || true
  rm -rf "$data_dir"
  [ "$backend" = postgres ] && psql "$PG_ADMIN_URL" -qc "DROP DATABASE $db" >/dev/null
done
