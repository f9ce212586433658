#!/usr/bin/env python3
"""Plays a KYC vendor (seed 004) against a running Kenali: docs/vendor-kyc.md.

  vendor-push.py setup --base URL --admin-key qe_sk_...     # an OAuth client and an integration; prints the vendor's settings as JSON
  vendor-push.py push  --base URL --vendor vendor.json [--count N] [--selfie F] [--id-photo F]

`push` encrypts a Ditto-shaped KYC with real images, pushes it, decrypts the confirmation and
prints it; with --count N it pushes N submissions and prints the median and p90 round trip.
Needs `pip install cryptography requests`.
"""
import argparse, base64, json, os, statistics, sys, time, uuid

import requests
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

TESTDATA = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "testdata")


def b64(data):
    return base64.b64encode(data).decode()


def setup(args):
    admin = {"Authorization": f"Bearer {args.admin_key}"}
    client = requests.post(f"{args.base}/api/identity/oauth-clients", headers=admin,
                           json={"name": "KYC vendor", "scopes": ["public"]})
    client.raise_for_status()
    client = client.json()["oauthClient"]
    made = requests.post(f"{args.base}/api/identity/integrations", headers=admin,
                         json={"name": "Ditto ID IDV", "oauthClientId": client["id"]})
    made.raise_for_status()
    made = made.json()
    json.dump({"integrationId": made["integration"]["id"], "clientId": client["id"],
               "clientSecret": client["clientSecret"], "keyId": made["key"]["id"],
               "key": made["key"]["secret"]}, sys.stdout, indent=2)
    print()


def seal(vendor, plaintext):
    iv = os.urandom(12)
    aad = f"kenali/vendor-kyc/v1/push/{vendor['integrationId']}".encode()
    out = AESGCM(base64.b64decode(vendor["key"])).encrypt(iv, plaintext, aad)
    return {"keyId": vendor["keyId"], "iv": b64(iv), "ciphertext": b64(out[:-16]), "tag": b64(out[-16:])}


def open_confirmation(vendor, envelope):
    aad = f"kenali/vendor-kyc/v1/confirmation/{vendor['integrationId']}".encode()
    sealed = base64.b64decode(envelope["ciphertext"]) + base64.b64decode(envelope["tag"])
    return json.loads(AESGCM(base64.b64decode(vendor["key"])).decrypt(base64.b64decode(envelope["iv"]), sealed, aad))


def kyc(selfie, id_photo):
    submission = str(uuid.uuid4())
    return {
        "submissionId": submission,
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "user": {"userId": f"user-{submission[:8]}", "mobileAppId": "id.example.app"},
        "document": {
            "type": "KTP",
            "fields": {"nik": "3201015503920002", "name": "SITI AMINAH", "birthPlace": "BOGOR",
                       "birthDate": "15-03-1992", "gender": "PEREMPUAN", "address": "JL. MAWAR NO. 1",
                       "rtRw": "001/002", "village": "CIBINONG", "district": "CIBINONG", "religion": "ISLAM",
                       "maritalStatus": "KAWIN", "occupation": "KARYAWAN SWASTA", "nationality": "WNI",
                       "validUntil": "SEUMUR HIDUP"},
            "idPhoto": b64(id_photo),
            "sourceComparisons": [{"field": "nik", "source": "DUKCAPIL", "match": True}],
        },
        "liveness": {"selfieImage": b64(selfie), "score": 0.97},
        "faceMatch": {"score": 0.93},
    }


def push(args):
    vendor = json.load(open(args.vendor))
    token = requests.post(f"{args.base}/api/oauth/token", auth=(vendor["clientId"], vendor["clientSecret"]),
                          data={"grant_type": "client_credentials"})
    token.raise_for_status()
    headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
    selfie, id_photo = open(args.selfie, "rb").read(), open(args.id_photo, "rb").read()
    url = f"{args.base}/api/integrations/{vendor['integrationId']}/kyc"
    seconds = []
    for _ in range(args.count):
        body = seal(vendor, json.dumps(kyc(selfie, id_photo)).encode())
        started = time.perf_counter()
        answer = requests.post(url, json=body, headers=headers)
        seconds.append(time.perf_counter() - started)
        reply = answer.json()
        confirmation = open_confirmation(vendor, reply) if "ciphertext" in reply else reply
        if args.count == 1 or answer.status_code != 201:
            print(answer.status_code, json.dumps(confirmation))
    if args.count > 1:
        seconds.sort()
        print(f"{args.count} pushes: median {1000 * statistics.median(seconds):.0f} ms, "
              f"p90 {1000 * seconds[int(0.9 * (len(seconds) - 1))]:.0f} ms (round trip, sealing included)")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser("setup")
    s.add_argument("--base", default="http://127.0.0.1:8080")
    s.add_argument("--admin-key", required=True)
    p = sub.add_parser("push")
    p.add_argument("--base", default="http://127.0.0.1:8080")
    p.add_argument("--vendor", required=True, help="the JSON that `setup` printed")
    p.add_argument("--count", type=int, default=1)
    p.add_argument("--selfie", default=os.path.join(TESTDATA, "faces", "obama_1.jpg"))
    p.add_argument("--id-photo", default=os.path.join(TESTDATA, "faces", "obama_2.jpg"))
    args = parser.parse_args()
    setup(args) if args.command == "setup" else push(args)


if __name__ == "__main__":
    main()
