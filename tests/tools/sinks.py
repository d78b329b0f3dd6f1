#!/usr/bin/python3
"""Test sinks for the notify role: an SMTP relay and an HTTP receiver (SMS gateway, webhooks).

Both listen on 127.0.0.1 only, on a port they pick (or --port), and write the port to
--port-file and their PID to --pid-file (each written atomically, once listening).

  sinks.py smtp --dir D --port-file F [--pid-file P] [--control C]
                [--tls implicit|starttls --tls-cert CERT --tls-key KEY] [--auth USER:PASS]
      Every accepted message becomes D/<ms>-<pid>-<nnnnnn>.eml (the bytes received after DATA)
      and, written just before it, D/<same>.json with the envelope
      {"mail_from": ..., "rcpt_tos": [...]}. An .eml only appears complete (rename).
      --tls implicit = SMTPS; --tls starttls = STARTTLS offered and required.
      --auth = AUTH PLAIN/LOGIN required, with these credentials.

  sinks.py http --log L --port-file F [--pid-file P] [--control C] [--format json|sms]
                [--headers-log H]
      Every POST answered 2xx appends one line to L:
        --format json (webhooks, default): the body, which must be JSON (else 400); as
            received when it holds no line break, else re-serialised compactly;
        --format sms: the body must be {"to": str, "text": str} (else 400); the line is
            "to<TAB>text" with backslash, tab, CR and LF in text written as \\\\ \\t \\r \\n.
      With --headers-log, every POST (answered or refused) appends one JSON line
      {"path": ..., "status": ..., "headers": {lower-case name: value}} to H.

  sinks.py control C MODE [COUNT]
      Tell the sink reading control file C how to answer: MODE is "ok", a status code
      (HTTP: 400, 429, 500, ...; SMTP: 451, 550, ... given at the end of DATA), "hang"
      (answer nothing for --hang-seconds, then 503 / 451) or "close" (drop the connection
      without an answer). COUNT = for the next COUNT requests (messages), then back to ok;
      no COUNT = until told otherwise. The sink re-reads C on every request.
"""
import argparse
import asyncio
import json
import os
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

BODY_MAX = 4 * 1024 * 1024


def write_atomic(path, text):
    tmp = "%s.%d.tmp" % (path, os.getpid())
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


class Control:
    """The control file: 'MODE [COUNT]'; take() returns the mode for this request."""

    def __init__(self, path):
        self.path = path
        self.lock = threading.Lock()

    def take(self):
        if not self.path:
            return "ok"
        with self.lock:
            try:
                with open(self.path) as f:
                    parts = f.read().split()
            except FileNotFoundError:
                return "ok"
            if not parts:
                return "ok"
            mode = parts[0]
            if len(parts) > 1:
                left = int(parts[1])
                if left <= 0:
                    return "ok"
                write_atomic(self.path, "%s %d\n" % (mode, left - 1) if left > 1 else "ok\n")
            return mode


def write_control(path, mode, count):
    if mode not in ("ok", "hang", "close") and not (mode.isdigit() and len(mode) == 3):
        raise SystemExit("sinks.py control: MODE is ok, hang, close or a 3-digit code")
    write_atomic(path, mode + (" %d" % count if count is not None else "") + "\n")


def announce(args, port, what):
    for path, val in ((args.pid_file, os.getpid()), (args.port_file, port)):
        if path:
            write_atomic(path, "%d\n" % val)
    print("sinks.py: %s listening on 127.0.0.1:%d" % (what, port), flush=True)


# ---- SMTP ----

class MailHandler:
    def __init__(self, args, control):
        self.args = args
        self.control = control
        self.n = 0

    async def handle_DATA(self, server, session, envelope):
        mode = self.control.take()
        if mode == "hang":
            await asyncio.sleep(self.args.hang_seconds)
            return "451 4.4.2 sink was told to hang"
        if mode == "close":
            server.transport.abort()
            return "421 4.4.2 closing"
        if mode != "ok":
            return "%s %s.0.0 sink was told to refuse" % (mode, mode[0])
        self.n += 1
        base = os.path.join(self.args.dir, "%013d-%d-%06d" % (time.time() * 1000, os.getpid(),
                                                            self.n))
        env = {"mail_from": envelope.mail_from, "rcpt_tos": list(envelope.rcpt_tos)}
        write_atomic(base + ".json", json.dumps(env) + "\n")
        tmp = base + ".eml.tmp"
        with open(tmp, "wb") as f:
            f.write(envelope.original_content or envelope.content)
        os.replace(tmp, base + ".eml")
        return "250 2.0.0 stored"


def tls_context(args):
    if not args.tls:
        return None
    if not (args.tls_cert and args.tls_key):
        raise SystemExit("sinks.py smtp: --tls needs --tls-cert and --tls-key")
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(args.tls_cert, args.tls_key)
    return ctx


def run_smtp(args):
    import logging
    import warnings
    from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

    warnings.simplefilter("ignore")  # AUTH without STARTTLS is deliberate under --tls implicit
    logging.getLogger("mail.log").setLevel(logging.ERROR)

    os.makedirs(args.dir, exist_ok=True)
    handler = MailHandler(args, Control(args.control))
    ctx = tls_context(args)
    kw = {}
    if args.auth:
        user, _, password = args.auth.partition(":")

        def check(server, session, envelope, mechanism, data):
            ok = (isinstance(data, LoginPassword) and data.login == user.encode()
                  and data.password == password.encode())
            return AuthResult(success=ok, handled=False)  # False: aiosmtpd answers 535

        kw = {"authenticator": check, "auth_required": True,
              "auth_require_tls": args.tls == "starttls"}
    if args.tls == "starttls":
        kw.update(tls_context=ctx, require_starttls=True)

    def factory():
        return SMTP(handler, hostname="sink.test", **kw)

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    srv = loop.run_until_complete(loop.create_server(
        factory, host="127.0.0.1", port=args.port, ssl=ctx if args.tls == "implicit" else None))
    announce(args, srv.sockets[0].getsockname()[1], "smtp%s" % (" " + args.tls if args.tls
                                                                 else ""))
    try:
        loop.run_forever()
    except KeyboardInterrupt:
        pass


# ---- HTTP ----

def sms_line(doc):
    if not (isinstance(doc, dict) and isinstance(doc.get("to"), str)
            and isinstance(doc.get("text"), str)):
        return None
    esc = doc["text"].replace("\\", "\\\\").replace("\t", "\\t").replace("\r", "\\r")
    return doc["to"] + "\t" + esc.replace("\n", "\\n")


def make_http_handler(args, control):
    lock = threading.Lock()

    def append(path, line):
        with lock, open(path, "a", encoding="utf-8") as f:
            f.write(line + "\n")

    class H(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *a):
            sys.stderr.write("sinks.py http: " + (fmt % a) + "\n")

        def answer(self, code, text):
            body = text.encode()
            try:
                self.send_response(code)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True  # the client gave up (hang mode)
            if args.headers_log:
                hdrs = {k.lower(): v for k, v in self.headers.items()}
                append(args.headers_log, json.dumps({"path": self.path, "status": code,
                                                     "headers": hdrs}))

        def do_GET(self):
            self.answer(405, "POST only\n")

        def do_POST(self):
            n = int(self.headers.get("Content-Length", "0"))
            if n < 0 or n > BODY_MAX:
                self.close_connection = True
                return self.answer(413, "too large\n")
            body = self.rfile.read(n)
            mode = control.take()
            if mode == "hang":
                time.sleep(args.hang_seconds)
                return self.answer(503, "sink was told to hang\n")
            if mode == "close":
                self.close_connection = True
                return
            if mode != "ok":
                return self.answer(int(mode), "sink was told to answer %s\n" % mode)
            try:
                doc = json.loads(body.decode("utf-8"))
            except (UnicodeDecodeError, ValueError):
                return self.answer(400, "body is not JSON\n")
            if args.format == "sms":
                line = sms_line(doc)
                if line is None:
                    return self.answer(400, "need {\"to\": str, \"text\": str}\n")
            else:
                text = body.decode("utf-8")
                line = text if "\n" not in text and "\r" not in text else json.dumps(
                    doc, ensure_ascii=False, separators=(",", ":"))
            append(args.log, line)
            self.answer(200, "ok\n")

    return H


def run_http(args):
    srv = ThreadingHTTPServer(("127.0.0.1", args.port),
                              make_http_handler(args, Control(args.control)))
    srv.daemon_threads = True
    announce(args, srv.server_address[1], "http (%s)" % args.format)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name in ("smtp", "http"):
        p = sub.add_parser(name)
        p.add_argument("--port", type=int, default=0)
        p.add_argument("--port-file", required=True)
        p.add_argument("--pid-file")
        p.add_argument("--control", help="control file (see 'sinks.py control')")
        p.add_argument("--hang-seconds", type=float, default=30.0)
        if name == "smtp":
            p.add_argument("--dir", required=True)
            p.add_argument("--tls", choices=("implicit", "starttls"))
            p.add_argument("--tls-cert")
            p.add_argument("--tls-key")
            p.add_argument("--auth", help="USER:PASS")
        else:
            p.add_argument("--log", required=True)
            p.add_argument("--format", choices=("json", "sms"), default="json")
            p.add_argument("--headers-log")
    c = sub.add_parser("control")
    c.add_argument("file")
    c.add_argument("mode")
    c.add_argument("count", nargs="?", type=int)
    args = ap.parse_args()
    if args.cmd == "control":
        return write_control(args.file, args.mode, args.count)
    if args.cmd == "smtp":
        return run_smtp(args)
    return run_http(args)


if __name__ == "__main__":
    main()
