#!/usr/bin/env python3
"""A decompression-bomb bundle against a running `kenali serve`: eight PNG frames of 35 MP each
(7000x5000, one colour, so each compresses to a few kilobytes), correctly signed, sent to the
step-up and the KTP capture. Prints each answer's status and code and the server's peak resident
memory growth (from /proc/PID/status VmHWM against VmRSS before), which must stay far under
400 MB: the frames are refused from their headers, before anything is decoded.

    KENALI_BOOTSTRAP_API_KEY=qe_sk_... target/release/kenali serve &   # or the debug build
    python3 bench/bomb.py --base http://127.0.0.1:8080 --key qe_sk_... --pid $!
"""
import argparse, base64, hashlib, hmac, json, struct, urllib.request, zlib


def png(width, height):
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    row = b"\x00" + b"\x80\x80\x80" * width
    raw = zlib.compress(row * height, 9)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)) \
        + chunk(b"IDAT", raw) + chunk(b"IEND", b"")


def call(base, key, path, body):
    req = urllib.request.Request(base + path, json.dumps(body).encode(), method="POST",
                                 headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=120) as r:
            return r.status, json.load(r)
    except urllib.error.HTTPError as e:
        return e.code, json.load(e)


def memory(pid, field):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1]) // 1024
    return 0


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--base", default="http://127.0.0.1:8080")
    p.add_argument("--key", required=True)
    p.add_argument("--pid", type=int, required=True)
    a = p.parse_args()
    frame = base64.b64encode(png(7000, 5000)).decode()
    print(f"one 35 MP frame: {len(frame) // 1024} KiB of base64")
    status, customer = call(a.base, a.key, "/api/customers", {"fullName": "Bomb Test"})
    cid = customer["customer"]["id"]
    # Reset the peak so that VmHWM is the peak during this run (needs the server's owner or root).
    open(f"/proc/{a.pid}/clear_refs", "w").write("5")
    before = memory(a.pid, "VmRSS")
    for challenge_path, path in [("/api/identity/face/flash-challenge", "/api/identity/auth/step-up"),
                                 ("/api/identity/document/ktp/challenge", "/api/identity/document/ktp/capture")]:
        _, issued = call(a.base, a.key, challenge_path, {"customerId": cid, "steps": 8})
        c = issued["flashChallenge"]
        bundle = {"version": "1", "sdkVersion": "web-1.0.0", "platform": "web", "frames": [frame] * 8,
                  "capturedAt": "2026-12-01T00:00:00Z", "flashChallengeNonce": c["nonce"],
                  "flashSamples": [{"step": i, "frameIndex": i, "color": c["colors"][i], "tMs": 500 * i} for i in range(8)]}
        # RFC 8785 for this bundle (ASCII strings and integers only) is sorted keys, no spaces.
        canonical = json.dumps(bundle, sort_keys=True, separators=(",", ":")).encode()
        bundle["signature"] = hmac.new(c["hmacSecret"].encode(), canonical, hashlib.sha256).hexdigest()
        body = {"customerId": cid, "bundle": bundle}
        if path.endswith("step-up"):
            # Something to match against, so that the step-up gets as far as the bundle.
            body["referenceImage"] = base64.b64encode(png(64, 64)).decode()
        status, answer = call(a.base, a.key, path, body)
        print(f"{path}: {status} {answer.get('error', {}).get('code')}")
    peak = memory(a.pid, "VmHWM")
    print(f"resident memory: {before} MB before, peak {peak} MB, growth {max(0, peak - before)} MB")


if __name__ == "__main__":
    main()
