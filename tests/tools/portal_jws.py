#!/usr/bin/python3
"""The test portal: signs an order's manifest (API.md section 1) as a compact JWS, ES256, with
openssl doing the signature (independent of the appliance's JWS code).

  portal_jws.py --key KEY.pem --aud URL ORDER.json [--exp-in S] [--iat-offset S] [--jti J]
prints ORDER.json with "portal_signature" added (claims taken from the order itself:
reference, signer = subscriber, documents = SHA-256 of each document's bytes).

  portal_jws.py --key KEY.pem --aud URL --account ID [--exp-in S] [--iat-offset S] [--jti J]
prints a portal assertion (API.md section 4: typ JWT, sub = ID) for certificate registration."""
import argparse, base64, hashlib, json, os, subprocess, sys, time


def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def der_to_raw(der, n=32):
    # SEQUENCE { INTEGER r, INTEGER s }
    assert der[0] == 0x30
    i = 2 if der[1] < 0x80 else 2 + (der[1] & 0x7F)
    out = b""
    for _ in range(2):
        assert der[i] == 0x02
        ln = der[i + 1]
        v = der[i + 2:i + 2 + ln].lstrip(b"\x00")
        out += v.rjust(n, b"\x00")
        i += 2 + ln
    return out


def sign(key, typ, claims):
    hdr = b64u(json.dumps({"alg": "ES256", "typ": typ}, separators=(",", ":")).encode())
    pay = b64u(json.dumps(claims, separators=(",", ":"), ensure_ascii=False).encode())
    signing_input = (hdr + "." + pay).encode()
    der = subprocess.run(["openssl", "dgst", "-sha256", "-sign", key], input=signing_input,
                         capture_output=True, check=True).stdout
    return hdr + "." + pay + "." + b64u(der_to_raw(der))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--key", required=True)
    ap.add_argument("--aud", required=True)
    ap.add_argument("--exp-in", type=int, default=300)
    ap.add_argument("--iat-offset", type=int, default=0)
    ap.add_argument("--jti")
    ap.add_argument("--account")
    ap.add_argument("order", nargs="?")
    a = ap.parse_args()
    now = int(time.time()) + a.iat_offset
    if a.account is not None:
        claims = {"iss": "moj-a1-test-portal", "aud": a.aud, "sub": a.account, "iat": now,
                  "exp": now + a.exp_in, "jti": a.jti or b64u(os.urandom(18))}
        print(sign(a.key, "JWT", claims))
        return
    order = json.load(open(a.order, encoding="utf-8"))
    sub = order["subscriber"]
    claims = {
        "iss": "moj-a1-test-portal",
        "aud": a.aud,
        "iat": now,
        "exp": now + a.exp_in,
        "jti": a.jti or b64u(os.urandom(18)),
        "reference": order["reference"],
        "signer": {k: sub[k] for k in ("given_name", "family_name", "email", "phone")},
        "documents": [hashlib.sha256(base64.b64decode(d["content_base64"])).hexdigest()
                      for d in order["documents"]],
    }
    order["portal_signature"] = sign(a.key, "c2s-order+jwt", claims)
    json.dump(order, sys.stdout, ensure_ascii=False)


if __name__ == "__main__":
    main()
