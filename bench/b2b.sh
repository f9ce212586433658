#!/usr/bin/env bash
# Seed 003's face match end to end (crates/server/examples/bench_b2b.rs): submissions per second
# from create to callback, the confirm-to-callback and queue delays, on SQLite with a local blob
# store (one process), then on PostgreSQL with Garage (S3) and two `kenali serve` processes
# sharing the work, one of which is killed (SIGKILL) a third of the way through: no submission
# may be lost or done twice.
# Needs a PostgreSQL at $PG_ADMIN_URL and Garage (`garage` on the PATH or in ~/.local/garage/bin).
set -euo pipefail
cd "$(dirname "$0")/.."
SUBMISSIONS=${SUBMISSIONS:-200}
CONCURRENCY=${CONCURRENCY:-8}
PG_ADMIN_URL=${PG_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}
GARAGE=${KENALI_GARAGE_BIN:-$(command -v garage || echo "$HOME/.local/garage/bin/garage")}
export KENALI_MODELS_DIR=${KENALI_MODELS_DIR:-$PWD/target/test-models}
export KENALI_BENCH_KEY="qe_sk_bench_$(od -An -tx1 -N12 /dev/urandom | tr -d ' \n')"
export KENALI_WEBHOOK_ALLOW_PRIVATE=true KENALI_LOG=warn KENALI_BOOTSTRAP_API_KEY="$KENALI_BENCH_KEY"

cargo build --release --bin kenali --example bench_b2b -p kenali-server >/dev/null

# Whatever fails, nothing started here outlives the script.
trap 'kill $(jobs -p) 2>/dev/null || true' EXIT
wait_up() { for _ in $(seq 1 300); do curl -fs "http://127.0.0.1:$1/api/healthz" >/dev/null && return; sleep 0.2; done; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

echo "== sqlite and a local blob store, one process"
data_dir=$(mktemp -d)
KENALI_DATA_DIR="$data_dir" KENALI_LISTEN=127.0.0.1:18291 target/release/kenali serve &
server=$!
wait_up 18291
target/release/examples/bench_b2b --base http://127.0.0.1:18291 --submissions "$SUBMISSIONS" --concurrency "$CONCURRENCY"
echo "-- one client at a time, each waiting for its callback (latency without a backlog)"
target/release/examples/bench_b2b --base http://127.0.0.1:18291 --submissions 50 --concurrency 1 --closed-loop
kill "$server"; wait "$server" 2>/dev/null || true
rm -rf "$data_dir"

echo "== postgres and Garage (S3), two processes, the second killed a third of the way"
garage_dir=$(mktemp -d)
s3_port=$(free_port); rpc_port=$(free_port)
cat > "$garage_dir/garage.toml" <<TOML
metadata_dir = "$garage_dir/meta"
data_dir = "$garage_dir/data"
db_engine = "sqlite"
replication_factor = 1
rpc_bind_addr = "127.0.0.1:$rpc_port"
rpc_public_addr = "127.0.0.1:$rpc_port"
rpc_secret = "$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')"
[s3_api]
s3_region = "ap-southeast-3"
api_bind_addr = "127.0.0.1:$s3_port"
root_domain = ".s3.garage.localhost"
TOML
g() { "$GARAGE" -c "$garage_dir/garage.toml" "$@"; }
"$GARAGE" -c "$garage_dir/garage.toml" server > "$garage_dir/server.log" 2>&1 &
garage_pid=$!
node=""
for _ in $(seq 1 100); do node=$(g node id -q 2>/dev/null | cut -d@ -f1) && [ -n "$node" ] && break; sleep 0.1; done
# `node id` reads the key from disk; wait for the server itself to answer.
for _ in $(seq 1 200); do g status >/dev/null 2>&1 && break; sleep 0.1; done
g layout assign -z dc1 -c 1G "$node" >/dev/null
g layout apply --version 1 >/dev/null
g bucket create kenali-bench >/dev/null
key=$(g key create kenali-bench)
g bucket allow --read --write --owner kenali-bench --key kenali-bench >/dev/null
export KENALI_BLOB_URL=s3://kenali-bench KENALI_S3_ENDPOINT="http://127.0.0.1:$s3_port" KENALI_S3_REGION=ap-southeast-3
KENALI_S3_ACCESS_KEY_ID=$(echo "$key" | sed -n 's/^Key ID: *//p')
KENALI_S3_SECRET_ACCESS_KEY=$(echo "$key" | sed -n 's/^Secret key: *//p')
export KENALI_S3_ACCESS_KEY_ID KENALI_S3_SECRET_ACCESS_KEY

db="kenali_bench_b2b_$$"
psql "$PG_ADMIN_URL" -qc "CREATE DATABASE $db" >/dev/null
export KENALI_DATABASE_URL="${PG_ADMIN_URL%/*}/$db" KENALI_MASTER_KEY="$(head -c32 /dev/urandom | base64)"
dir_a=$(mktemp -d); dir_b=$(mktemp -d)
KENALI_DATA_DIR="$dir_a" KENALI_LISTEN=127.0.0.1:18292 target/release/kenali serve &
first=$!
wait_up 18292
KENALI_DATA_DIR="$dir_b" KENALI_LISTEN=127.0.0.1:18293 target/release/kenali serve &
second=$!
wait_up 18293
status=0
target/release/examples/bench_b2b --base http://127.0.0.1:18292,http://127.0.0.1:18293 \
  --submissions "$SUBMISSIONS" --concurrency "$CONCURRENCY" --kill-pid "$second" || status=$?
kill "$first"; wait "$first" 2>/dev/null || true
wait "$second" 2>/dev/null || true
kill "$garage_pid"; wait "$garage_pid" 2>/dev/null || true
rm -rf "$dir_a" "$dir_b" "$garage_dir"
psql "$PG_ADMIN_URL" -qc "DROP DATABASE $db" >/dev/null
exit "$status"
