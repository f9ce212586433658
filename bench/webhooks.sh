#!/usr/bin/env bash
# Webhook delivery benchmark (crates/server/examples/bench_webhooks.rs): events per second end to
# end to a local receiver and the delay the outbox adds, on SQLite (one process) and on
# PostgreSQL with two `kenali serve` processes sharing the database, one of which is killed
# (SIGKILL) halfway through, counting lost and duplicated events.
# Needs a PostgreSQL at $PG_ADMIN_URL. No models: the servers start without the face pipeline's
# routes being used (models are still fetched on first start).
set -euo pipefail
cd "$(dirname "$0")/.."
EVENTS=${EVENTS:-1000}
CONCURRENCY=${CONCURRENCY:-8}
PG_ADMIN_URL=${PG_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}
export KENALI_MODELS_DIR=${KENALI_MODELS_DIR:-$PWD/target/test-models}
export KENALI_BENCH_KEY="qe_sk_bench_$(od -An -tx1 -N12 /dev/urandom | tr -d ' \n')"
export KENALI_WEBHOOK_ALLOW_PRIVATE=true KENALI_LOG=warn KENALI_BOOTSTRAP_API_KEY="$KENALI_BENCH_KEY"

cargo build --release --bin kenali --example bench_webhooks -p kenali-server >/dev/null

wait_up() { for _ in $(seq 1 150); do curl -fs "http://127.0.0.1:$1/api/healthz" >/dev/null && return; sleep 0.2; done; }

echo "== sqlite, one process"
data_dir=$(mktemp -d)
KENALI_DATA_DIR="$data_dir" KENALI_LISTEN=127.0.0.1:18191 target/release/kenali serve &
server=$!
wait_up 18191
target/release/examples/bench_webhooks --base http://127.0.0.1:18191 --events "$EVENTS" --concurrency "$CONCURRENCY"
kill "$server"; wait "$server" 2>/dev/null || true
rm -rf "$data_dir"

echo "== postgres, two processes, the second killed halfway"
db="kenali_bench_hooks_$$"
psql "$PG_ADMIN_URL" -qc "CREATE DATABASE $db" >/dev/null
export KENALI_DATABASE_URL="${PG_ADMIN_URL%/*}/$db" KENALI_MASTER_KEY="$(head -c32 /dev/urandom | base64)"
dir_a=$(mktemp -d); dir_b=$(mktemp -d)
KENALI_DATA_DIR="$dir_a" KENALI_LISTEN=127.0.0.1:18192 target/release/kenali serve &
first=$!
wait_up 18192
KENALI_DATA_DIR="$dir_b" KENALI_LISTEN=127.0.0.1:18193 target/release/kenali serve &
second=$!
wait_up 18193
target/release/examples/bench_webhooks --base http://127.0.0.1:18192 --events "$EVENTS" \
  --concurrency "$CONCURRENCY" --kill-pid "$second"
kill "$first"; wait "$first" 2>/dev/null || true
wait "$second" 2>/dev/null || true
rm -rf "$dir_a" "$dir_b"
psql "$PG_ADMIN_URL" -qc "DROP DATABASE $db" >/dev/null
