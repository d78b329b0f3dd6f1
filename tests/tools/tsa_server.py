#!/usr/bin/python3
"""Test RFC 3161 time-stamping authority on 127.0.0.1 (and static file server for CRLs).

POST application/timestamp-query -> `openssl ts -reply` with the test TSA certificate
(made by mkpki.sh) -> application/timestamp-reply. GET serves files from --static.

The behaviour is chosen per request by the first path element (or --mode for "/"):
  /ok (default)       a good reply
  /500                HTTP 500
  /hang?secs=N        sleep N seconds (default --hang-seconds), then a good reply
  /wrong-imprint      a reply for the request with one imprint byte changed (same nonce)
  /wrong-nonce        a reply for the request with the nonce changed (same imprint)
  /no-nonce           a reply without a nonce
  /reject             status rejection(2) with a status text and failInfo badAlg
  /big                70 KiB of garbage as application/timestamp-reply
  /garbage            a few bytes that are not DER
  /html               a good reply but Content-Type text/html
--fail-first N answers 500 to the first N POSTs (retry tests).

Usage: tsa_server.py --pki PKIDIR [--port 0] [--port-file F] [--pid-file F] [--static DIR]
"""
import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ALGS = {
    bytes.fromhex("608648016503040201"): "sha256",
    bytes.fromhex("608648016503040202"): "sha384",
    bytes.fromhex("608648016503040203"): "sha512",
}


def tlv(buf, off):
    """(tag, content_start, content_end) of the DER TLV at off."""
    tag = buf[off]
    n = buf[off + 1]
    off += 2
    if n & 0x80:
        k = n & 0x7F
        n = int.from_bytes(buf[off:off + k], "big")
        off += k
    return tag, off, off + n


def parse_req(q):
    """Offsets of interest in a TimeStampReq: alg OID, hashedMessage, nonce contents."""
    _, s, e = tlv(q, 0)
    _, vs, ve = tlv(q, s)            # version
    _, ms, me = tlv(q, ve)           # messageImprint
    _, as_, ae = tlv(q, ms)          # AlgorithmIdentifier
    _, os_, oe = tlv(q, as_)         # OID
    _, hs, he = tlv(q, ae)           # hashedMessage
    out = {"alg": bytes(q[os_:oe]), "hash": (hs, he), "nonce": None}
    off = me
    while off < e:
        t, cs, ce = tlv(q, off)
        if t == 0x02:
            out["nonce"] = (cs, ce)
        off = ce
    return out


def der(tag, body):
    n = len(body)
    if n < 0x80:
        ln = bytes([n])
    elif n < 0x100:
        ln = bytes([0x81, n])
    else:
        ln = bytes([0x82, n >> 8, n & 0xFF])
    return bytes([tag]) + ln + body


class Tsa:
    def __init__(self, args):
        self.args = args
        self.cnf = os.path.join(args.pki, "tsa", "ts.cnf")
        self.lock = threading.Lock()
        self.posts = 0

    def reply(self, query, extra=()):
        with self.lock, tempfile.TemporaryDirectory() as d:
            qf, rf = os.path.join(d, "q.tsq"), os.path.join(d, "r.tsr")
            with open(qf, "wb") as f:
                f.write(query)
            subprocess.run(["openssl", "ts", "-reply", "-config", self.cnf, "-queryfile", qf,
                            "-chain", os.path.join(self.args.pki, "tsa", "chain.pem"),
                            "-out", rf, *extra], check=True, capture_output=True)
            with open(rf, "rb") as f:
                return f.read()

    def query_for(self, digest_hex, alg, nonce=True):
        with tempfile.TemporaryDirectory() as d:
            qf = os.path.join(d, "q.tsq")
            cmd = ["openssl", "ts", "-query", "-digest", digest_hex, "-" + alg, "-cert", "-out", qf]
            if not nonce:
                cmd.append("-no_nonce")
            subprocess.run(cmd, check=True, capture_output=True)
            with open(qf, "rb") as f:
                return f.read()


def make_handler(tsa):
    class H(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *a):
            sys.stderr.write("tsa_server: " + (fmt % a) + "\n")

        def send(self, code, body, ctype="application/timestamp-reply"):
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            path = urllib.parse.urlparse(self.path).path
            name = os.path.basename(path)
            full = os.path.join(tsa.args.static, name) if tsa.args.static else None
            if not name or not full or not os.path.isfile(full):
                return self.send(404, b"not found\n", "text/plain")
            with open(full, "rb") as f:
                body = f.read()
            ctype = "application/pkix-crl" if name.endswith(".crl") else "application/octet-stream"
            self.send(200, body, ctype)

        def do_POST(self):
            url = urllib.parse.urlparse(self.path)
            parts = [p for p in url.path.split("/") if p]
            mode = parts[0] if parts and parts[0] != "tsa" else tsa.args.mode
            qs = urllib.parse.parse_qs(url.query)
            n = int(self.headers.get("Content-Length", "0"))
            query = bytearray(self.rfile.read(n) if 0 < n < 65536 else b"")
            with tsa.lock:
                tsa.posts += 1
                first = tsa.posts <= tsa.args.fail_first
            if first or mode == "500":
                return self.send(500, b"internal error\n", "text/plain")
            if self.headers.get("Content-Type") != "application/timestamp-query":
                return self.send(415, b"need application/timestamp-query\n", "text/plain")
            try:
                self.answer(mode, qs, query)
            except (subprocess.CalledProcessError, IndexError, ValueError) as e:
                self.log_message("bad request: %s", e)
                self.send(400, b"bad request\n", "text/plain")

        def answer(self, mode, qs, query):
            if mode == "hang":
                time.sleep(float(qs.get("secs", [tsa.args.hang_seconds])[0]))
            if mode == "big":
                return self.send(200, b"\x30" * (70 * 1024))
            if mode == "garbage":
                return self.send(200, b"\x30\x03\x02\x01")
            if mode == "reject":
                text = der(0x30, der(0x0C, b"request refused by test policy"))
                body = der(0x30, der(0x02, b"\x02") + text + der(0x03, b"\x07\x80"))
                return self.send(200, der(0x30, body))
            r = parse_req(query)
            if mode == "wrong-imprint":
                hs, _ = r["hash"]
                query[hs] ^= 0xFF
            elif mode == "wrong-nonce":
                if r["nonce"] is None:
                    raise ValueError("no nonce")
                _, ne = r["nonce"]
                query[ne - 1] ^= 0x01
            elif mode == "no-nonce":
                hs, he = r["hash"]
                query = tsa.query_for(bytes(query[hs:he]).hex(), ALGS[r["alg"]], nonce=False)
            body = tsa.reply(bytes(query))
            self.send(200, body, "text/html" if mode == "html" else "application/timestamp-reply")

    return H


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--pki", required=True, help="directory made by mkpki.sh")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--pid-file")
    ap.add_argument("--static", help="directory served on GET (default PKI/crl)")
    ap.add_argument("--mode", default="ok", help="behaviour for POST /")
    ap.add_argument("--hang-seconds", type=float, default=30.0)
    ap.add_argument("--fail-first", type=int, default=0)
    args = ap.parse_args()
    args.pki = os.path.abspath(args.pki)
    if args.static is None:
        args.static = os.path.join(args.pki, "crl")
    srv = ThreadingHTTPServer(("127.0.0.1", args.port), make_handler(Tsa(args)))
    srv.daemon_threads = True
    port = srv.server_address[1]
    for path, val in ((args.pid_file, os.getpid()), (args.port_file, port)):
        if path:
            tmp = path + ".tmp"
            with open(tmp, "w") as f:
                f.write("%d\n" % val)
            os.replace(tmp, path)
    print("tsa_server: listening on http://127.0.0.1:%d/" % port, flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
