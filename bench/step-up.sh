#!/usr/bin/env bash
# End-to-end step-up benchmark: starts a release `kenali serve` (SQLite, then PostgreSQL) with
# the face models and runs crates/server/examples/bench_step_up.rs against it: p50/p99 latency
# and decisions per second at each concurrency, plus the server's per-stage means.
# KIND=ktp-capture times KTP captures (a rendered card, 3 frames) instead of step-ups.
# Needs: the models (fetched into $KENALI_MODELS_DIR on first use), a PostgreSQL at
# $PG_ADMIN_URL for the second backend. The client shares this machine's cores.
set -euo pipefail
cd "$(dirname "$0")/.."
REQUESTS=${REQUESTS:-40}
CONCURRENCY=${CONCURRENCY:-1,8}
STEPS=${STEPS:-5}
KIND=${KIND:-step-up}
BACKENDS=${BACKENDS:-"sqlite postgres"}
PG_ADMIN_URL=${PG_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}
PORT=${PORT:-18182}
export KENALI_MODELS_DIR=${KENALI_MODELS_DIR:-$PWD/target/test-models}
export KENALI_BENCH_KEY="qe_sk_bench_$(od -An -tx1 -N12 /dev/urandom | tr -d ' \n')"

cargo build --release --bin kenali --example bench_step_up -p kenali-server >/dev/null
target/release/kenali models fetch >/dev/null

for backend in $BACKENDS; do
  data_dir=$(mktemp -d)
  env_vars=(KENALI_DATA_DIR="$data_dir" KENALI_LISTEN="127.0.0.1:$PORT" KENALI_LOG=warn
            KENALI_BOOTSTRAP_API_KEY="$KENALI_BENCH_KEY")
  if [ "$backend" = postgres ]; then
    db="kenali_bench_$$"
    psql "$PG_ADMIN_URL" -qc "CREATE DATABASE $db" >/dev/null
    env_vars+=(KENALI_DATABASE_URL="${PG_ADMIN_URL%/*}/$db" KENALI_MASTER_KEY="$(head -c32 /dev/urandom | base64)")
  fi
  env "${env_vars[@]}" target/release/kenali serve &
  server=$!
  for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$PORT/api/healthz" >/dev/null && break; sleep 0.2; done
  echo "== $backend"
  target/release/examples/bench_step_up --base "http://127.0.0.1:$PORT" \
    --requests "$REQUESTS" --concurrency "$CONCURRENCY" --steps "$STEPS" --kind "$KIND" || status=$?
  kill "$server"; wait "$server" 2>/dev/null || true
  rm -rf "$data_dir"
  [ "$backend" = postgres ] && psql "$PG_ADMIN_URL" -qc "DROP DATABASE $db" >/dev/null
  [ "${status:-0}" = 0 ] || exit "$status"
done
