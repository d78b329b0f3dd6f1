#!/usr/bin/python3
"""The test portal: signs an order's manifest (API.md section 1) as a compact JWS, ES256, with
openssl doing the signature (independent of the appliance's JWS code).

  portal_jws.py --key KEY.pem --aud URL ORDER.json [--exp-in S] [--iat-offset S] [--jti J]
prints ORDER.json with "portal_signature" added (claims taken from the order itself:
reference, signer = subscriber, documents = SHA-256 of each document's bytes).

  portal_jws.py --key KEY.pem --aud URL --account ID [--exp-in S] [--iat-offset S] [--jti J]
prints a portal assertion (API.md section 4: typ JWT, sub = ID) for certificate registration.

  portal_jws.py --verify PUB.pem TOKEN
checks an ES256 JWT of the appliance (a login assertion) with openssl and prints its payload;
exits non-zero when the signature does not verify or the header is not {"alg":"ES256","typ":"JWT"}."""
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


def verify(pub, tok):
    import tempfile
    h, p, s = tok.split(".")
    d = lambda x: base64.urlsafe_b64decode(x + "=" * (-len(x) % 4))
    sig = d(s)
    if len(sig) != 64:
        sys.exit("signature is not 64 bytes of r||s")

    def der_int(b):
        b = b.lstrip(b"\0") or b"\0"
        return b"\x02" + bytes([len(b) + (b[0] >> 7)]) + (b"\0" if b[0] & 0x80 else b"") + b

    body = der_int(sig[:32]) + der_int(sig[32:])
    with tempfile.NamedTemporaryFile() as f:
        f.write(b"\x30" + bytes([len(body)]) + body)
        f.flush()
        r = subprocess.run(["openssl", "dgst", "-sha256", "-verify", pub, "-signature", f.name],
                           input=(h + "." + p).encode(), capture_output=True)
    if r.returncode != 0:
        sys.exit("signature does not verify: " + (r.stdout + r.stderr).decode())
    if json.loads(d(h)) != {"alg": "ES256", "typ": "JWT"}:
        sys.exit("unexpected header " + d(h).decode())
    print(d(p).decode())


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "--verify":
        return verify(sys.argv[2], sys.argv[3])
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
