#!/usr/bin/python3
"""Read an .eml back with Python's email package (an independent parser) and check it.

Always: every line ends in CRLF and has at most --max-line characters, the bytes are 7-bit,
the parser reports no defect in any part, MIME-Version is 1.0, Message-ID is
<32 hex digits @ domain>. Optional expectations (UTF-8 strings given in hex, so any text
survives the shell):
  --from ADDR --from-name-hex HEX --to ADDR (repeat, in order) --subject-hex HEX
  --date EPOCH --msgid-domain DOMAIN --text-hex HEX --html-hex HEX
  --attachment NAMEHEX:SHA256 (repeat, in order; exactly these attachments)
Exit 0 when everything matches; otherwise 1 with one line per mismatch on stderr.
"""
import argparse
import email
import email.policy
import email.utils
import hashlib
import re
import sys


def u(h):
    return bytes.fromhex(h).decode("utf-8")


def norm(s):
    return s.replace("\r\n", "\n")


def check_lines(raw, max_line, bad):
    if any(b > 0x7E or (b < 0x20 and b not in (9, 10, 13)) for b in raw):
        bad.append("message holds bytes outside 7-bit printable ASCII")
    lines = raw.split(b"\r\n")
    if lines[-1] != b"":
        bad.append("message does not end in CRLF")
    for i, line in enumerate(lines[:-1], 1):
        if b"\n" in line or b"\r" in line:
            bad.append("line %d: bare CR or LF" % i)
        if len(line) > max_line:
            bad.append("line %d: %d characters > %d: %r" % (i, len(line), max_line, line[:90]))


def check_headers(msg, a, bad):
    if msg["MIME-Version"] != "1.0":
        bad.append("MIME-Version is %r" % msg["MIME-Version"])
    mid = str(msg["Message-ID"])
    dom = re.escape(a.msgid_domain) if a.msgid_domain else r"[A-Za-z0-9.-]+"
    if not re.fullmatch(r"<[0-9a-f]{32}@%s>" % dom, mid):
        bad.append("Message-ID %r" % mid)
    if a.subject_hex is not None and str(msg["Subject"]) != u(a.subject_hex):
        bad.append("Subject %r != %r" % (str(msg["Subject"]), u(a.subject_hex)))
    frm = msg["From"].addresses if msg["From"] else ()
    if a.from_ and (len(frm) != 1 or frm[0].addr_spec != a.from_):
        bad.append("From %r" % str(msg["From"]))
    if a.from_name_hex is not None and (not frm or frm[0].display_name != u(a.from_name_hex)):
        bad.append("From display name %r" % (frm[0].display_name if frm else None))
    if a.to:
        got = [x.addr_spec for x in msg["To"].addresses] if msg["To"] else []
        if got != a.to:
            bad.append("To %r != %r" % (got, a.to))
    if a.date is not None:
        when = email.utils.parsedate_to_datetime(str(msg["Date"])).timestamp()
        if int(when) != a.date:
            bad.append("Date %r is %d, not %d" % (str(msg["Date"]), when, a.date))


def check_body(msg, a, bad):
    for want, kind in ((a.text_hex, "plain"), (a.html_hex, "html")):
        if want is None:
            continue
        part = msg.get_body(preferencelist=(kind,))
        got = norm(part.get_content()) if part is not None else None
        exp = norm(u(want))
        if part is None or part.get_content_subtype() != kind:
            bad.append("no text/%s body" % kind)
        elif got != exp and got != exp + "\n":
            bad.append("text/%s body %r != %r" % (kind, got[:80], exp[:80]))
        elif part.get_content_charset() != "utf-8":
            bad.append("text/%s charset %r" % (kind, part.get_content_charset()))


def check_attachments(msg, a, bad):
    got = []
    for part in msg.iter_attachments():
        data = part.get_payload(decode=True) or b""
        got.append((part.get_filename(), hashlib.sha256(data).hexdigest()))
        fallback = part.get_param("name")
        if not isinstance(fallback, str) or not fallback or not fallback.isascii():
            bad.append("attachment %r: no plain ASCII name= fallback" % part.get_filename())
        if part["Content-Transfer-Encoding"] != "base64":
            bad.append("attachment %r is not base64" % part.get_filename())
    want = []
    for spec in a.attachment:
        name, _, digest = spec.rpartition(":")
        want.append((u(name), digest.lower()))
    if a.attachment and got != want:
        bad.append("attachments %r != %r" % (got, want))


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("eml")
    ap.add_argument("--max-line", type=int, default=76)
    ap.add_argument("--from", dest="from_")
    ap.add_argument("--from-name-hex")
    ap.add_argument("--to", action="append", default=[])
    ap.add_argument("--subject-hex")
    ap.add_argument("--date", type=int)
    ap.add_argument("--msgid-domain")
    ap.add_argument("--text-hex")
    ap.add_argument("--html-hex")
    ap.add_argument("--attachment", action="append", default=[])
    a = ap.parse_args()
    with open(a.eml, "rb") as f:
        raw = f.read()
    bad = []
    check_lines(raw, a.max_line, bad)
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    for part in msg.walk():
        for d in part.defects:
            bad.append("parser defect in %s: %r" % (part.get_content_type(), d))
        for name, value in part.items():
            for d in getattr(value, "defects", ()):
                bad.append("parser defect in header %s: %r" % (name, d))
    check_headers(msg, a, bad)
    check_body(msg, a, bad)
    check_attachments(msg, a, bad)
    for b in bad:
        print("eml_check: " + b, file=sys.stderr)
    if not bad:
        print("eml_check: %s ok (%d attachments, subject %r)" %
              (a.eml, len(list(msg.iter_attachments())), str(msg["Subject"])))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
