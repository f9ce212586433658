#!/usr/bin/env bash
# `kenali blobs migrate` end to end on SQLite: 20 customers each with a Dukcapil photo and a
# face-match selfie, their images put back into the rows as servers before the blob store kept
# them, then migrated twice (the second run moves nothing). Needs a release build and the models.
set -euo pipefail
cd "$(dirname "$0")/.."
D=$(mktemp -d); trap 'rm -rf "$D"' EXIT
export KENALI_DATA_DIR=$D KENALI_MODELS_DIR=$PWD/target/test-models KENALI_LISTEN=127.0.0.1:18080 KENALI_BOOTSTRAP_API_KEY=qe_sk_smoke_0123456789abcdef KENALI_LOG=warn
./target/release/kenali serve & S=$!
for i in $(seq 1 60); do curl -sf localhost:18080/api/healthz >/dev/null && break; sleep 1; done
K=$KENALI_BOOTSTRAP_API_KEY
IMG1=$(base64 -w0 ../shared/testdata/faces/obama_1.jpg)
IMG=$(base64 -w0 ../shared/testdata/faces/obama_2.jpg)
for n in $(seq 1 20); do
  id=$(curl -sf -H "Authorization: Bearer $K" -H 'content-type: application/json' localhost:18080/api/customers -d "{\"fullName\":\"Smoke $n\"}" | python3 -c 'import json,sys;print(json.load(sys.stdin)["customer"]["id"])')
  echo "{\"customerId\":\"$id\",\"valid\":true,\"photo\":\"$IMG1\"}" > $D/ref.json
  curl -sf -o /dev/null -H "Authorization: Bearer $K" -H 'content-type: application/json' localhost:18080/api/identity/nik/dukcapil --data @$D/ref.json
  echo "{\"customerId\":\"$id\",\"image\":\"$IMG\"}" > $D/body.json
  curl -sf -o /dev/null -H "Authorization: Bearer $K" -H 'content-type: application/json' localhost:18080/api/identity/face/match --data @$D/body.json
done
kill $S; wait $S || true
python3 - "$D" <<'PY'
import sqlite3, os
import sys; d=sys.argv[1]; db=sqlite3.connect(d+'/kenali.db')
rows=db.execute("select id, object_key from captures where object_key is not null").fetchall()
for id,key in rows:
    p=os.path.join(d,'blobs',key); b=open(p,'rb').read()
    db.execute("update captures set sealed=?, object_key=null, object_sha256=null, object_size=null where id=?",(b,id)); os.remove(p)
rows2=db.execute("select id, photo_object_key from dukcapil_verdicts where photo_object_key is not null").fetchall()
for id,key in rows2:
    p=os.path.join(d,'blobs',key); b=open(p,'rb').read()
    db.execute("update dukcapil_verdicts set photo_sealed=?, photo_object_key=null, photo_object_sha256=null, photo_object_size=null where id=?",(b,id)); os.remove(p)
db.commit(); db.execute("vacuum"); print("rows put back:",len(rows),len(rows2), "db bytes", os.path.getsize(d+'/kenali.db'))
PY
./target/release/kenali blobs migrate
./target/release/kenali blobs migrate | grep -A3 moved
