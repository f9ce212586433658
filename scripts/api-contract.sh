#!/usr/bin/env bash
# The API contract, checked from outside: starts `kenali serve` (SQLite, a fresh data dir, an
# admin key holding every scope) and runs schemathesis (PyPI) against its own
# /api/openapi.json, every operation: no 5xx, and every response's status, content type and body
# as the description says. Needs the `kenali` binary (KENALI_BIN, default the release build that
# `serve` and the README's test command leave) and the models (KENALI_MODELS_DIR, default target/test-models).
# SCHEMATHESIS_SEED fixes the generated cases (CI uses a fixed one so a run reproduces);
# SCHEMATHESIS_EXAMPLES bounds the cases per operation.
set -euo pipefail
cd "$(dirname "$0")/.."
KENALI_BIN=${KENALI_BIN:-target/release/kenali}
PORT=${PORT:-18200}
# Run through the interpreter, so a freshly pip-installed CLI needs no PATH shim.
python3 -m schemathesis.cli --version >/dev/null 2>&1 || python3 -m pip install -q 'schemathesis==4.32.5'

data_dir=$(mktemp -d)
key="qe_sk_contract_$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')"
KENALI_DATA_DIR="$data_dir" KENALI_LISTEN="127.0.0.1:$PORT" KENALI_LOG=warn \
  KENALI_MODELS_DIR="${KENALI_MODELS_DIR:-$PWD/target/test-models}" KENALI_BOOTSTRAP_API_KEY="$key" \
  "$KENALI_BIN" serve > "$data_dir/server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true; wait $server 2>/dev/null || true; rm -rf "$data_dir"' EXIT

seed_args=()
if [ -n "${SCHEMATHESIS_SEED:-}" ]; then seed_args=(--seed "$SCHEMATHESIS_SEED" --generation-deterministic); fi
status=0
python3 -m schemathesis.cli run "http://127.0.0.1:$PORT/api/openapi.json" \
  --header "Authorization: Bearer $key" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
  --phases examples,coverage,fuzzing --max-examples "${SCHEMATHESIS_EXAMPLES:-25}" \
  --request-timeout 60 --workers 2 --wait-for-schema 180 --no-color "${seed_args[@]}" || status=$?
if [ "$status" -ne 0 ]; then
  echo "--- server log"; tail -n 100 "$data_dir/server.log"
fi
exit "$status"
