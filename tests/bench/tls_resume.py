"""New TLS connections to c2s-web, each with one GET /v1/health: full handshakes against
resumed ones (the ticket of an earlier connection), TLS 1.3, TCP_NODELAY as browsers set it.
   tls_resume.py PORT CA N    prints one line per mode: rate and how many were resumed"""
import socket
import ssl
import sys
import time

port, ca, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
ctx = ssl.create_default_context(cafile=ca)
ctx.check_hostname = False
ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1_3


def one(sess):
    c = socket.create_connection(("127.0.0.1", port))
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s = ctx.wrap_socket(c, server_hostname="localhost", session=sess)
    s.sendall(b"GET /v1/health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
    while s.recv(65536):
        pass
    r, se = s.session_reused, s.session
    s.close()
    return r, se


for mode in ("full", "resumed"):
    _, sess = one(None)
    t = time.perf_counter()
    reused = 0
    for i in range(n):
        r, _ = one(sess if mode == "resumed" else None)
        reused += r
    el = time.perf_counter() - t
    print(f"TLS 1.3 {mode:7}: {n} connections in {el:.2f} s = {n / el:.0f}/s, {reused} resumed")
