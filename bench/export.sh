#!/usr/bin/env bash
# Export benchmark (crates/server/examples/bench_export.rs): ROWS verifications (100k by default)
# exported as CSV from a running `kenali serve`, on SQLite and on PostgreSQL: time (median of
# RUNS) and the server's resident memory before and at its peak during each download.
# Needs a PostgreSQL at $PG_ADMIN_URL. Models are fetched on first start like `serve` does.
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=${ROWS:-100000}
RUNS=${RUNS:-3}
BACKENDS=${BACKENDS:-sqlite postgres}
PG_ADMIN_URL=${PG_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}
export KENALI_MODELS_DIR=${KENALI_MODELS_DIR:-$PWD/target/test-models}
export KENALI_BENCH_KEY="qe_sk_bench_$(od -An -tx1 -N12 /dev/urandom | tr -d ' \n')"
export KENALI_LOG=warn KENALI_BOOTSTRAP_API_KEY="$KENALI_BENCH_KEY"

cargo build --release --bin kenali --example bench_export -p kenali-server >/dev/null

wait_up() { for _ in $(seq 1 300); do curl -fs "http://127.0.0.1:$1/api/healthz" >/dev/null && return; sleep 0.2; done; }

for backend in $BACKENDS; do
  echo "== $backend"
  data_dir=$(mktemp -d)
  if [ "$backend" = postgres ]; then
    db="kenali_bench_export_$$"
    psql "$PG_ADMIN_URL" -qc "CREATE DATABASE $db" >/dev/null
    url="${PG_ADMIN_URL%/*}/$db"
    export KENALI_MASTER_KEY="$(head -c32 /dev/urandom | base64)"
  else
    url="sqlite://$data_dir/kenali.db"
    unset KENALI_MASTER_KEY
  fi
  KENALI_DATA_DIR="$data_dir" KENALI_DATABASE_URL="$url" KENALI_LISTEN=127.0.0.1:18194 target/release/kenali serve &
  server=$!
  wait_up 18194
  target/release/examples/bench_export --base http://127.0.0.1:18194 --database-url "$url" \
    --server-pid "$server" --rows "$ROWS" --runs "$RUNS"
  kill "$server"; wait "$server" 2>/dev/null || true
  rm -rf "$data_dir"
  if [ "$backend" = postgres ]; then psql "$PG_ADMIN_URL" -qc "DROP DATABASE $db" >/dev/null; fi
done
