#!/usr/bin/python3
"""A hostile HTTP client over TLS: sends exactly the bytes it is given, in pieces and with pauses
if asked, and prints what came back. For tests/integration/frontend_test.sh.

  rawhttp.py --port P --ca CA.pem [--timeout S] [--pause S] [--drip N] REQUEST [REQUEST ...]

Each REQUEST is a Python-escaped string ('GET / HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n', \\x00 for NUL),
sent in order on one connection, --pause S seconds apart; --drip N sends each in N-byte pieces
--pause apart instead (--whole-first: all but the first). Output: one line "status <code or - > elapsed <s> closed <0|1>", then the
raw response bytes (headers and bodies, up to 64 KiB) as text."""
import argparse, codecs, socket, ssl, sys, time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--ca", required=True)
    ap.add_argument("--timeout", type=float, default=10)
    ap.add_argument("--pause", type=float, default=0)
    ap.add_argument("--drip", type=int, default=0)
    ap.add_argument("--whole-first", action="store_true",
                    help="send the first REQUEST at once and drip only the others")
    ap.add_argument("requests", nargs="+")
    a = ap.parse_args()
    ctx = ssl.create_default_context(cafile=a.ca)
    ctx.check_hostname = False
    t0 = time.monotonic()
    raw = socket.create_connection(("127.0.0.1", a.port), timeout=a.timeout)
    s = ctx.wrap_socket(raw, server_hostname="localhost")
    closed = 0
    try:
        for i, req in enumerate(a.requests):
            data = codecs.decode(req, "unicode_escape").encode("latin-1")
            if a.drip and not (a.whole_first and i == 0):
                for j in range(0, len(data), a.drip):
                    s.sendall(data[j:j + a.drip])
                    time.sleep(a.pause)
            else:
                if i and a.pause:
                    time.sleep(a.pause)
                s.sendall(data)
    except (ConnectionError, ssl.SSLError, OSError):
        closed = 1
    out = b""
    s.settimeout(max(0.1, a.timeout - (time.monotonic() - t0)))
    try:
        while len(out) < 65536:
            b = s.recv(65536)
            if not b:
                closed = 1
                break
            out += b
    except socket.timeout:
        pass
    except (ConnectionError, ssl.SSLError, OSError):
        closed = 1
    status = "-"
    if out.startswith(b"HTTP/1."):
        status = out.split(b" ", 2)[1].decode()
    print("status %s elapsed %.2f closed %d" % (status, time.monotonic() - t0, closed))
    sys.stdout.write(out.decode("latin-1"))


if __name__ == "__main__":
    main()
