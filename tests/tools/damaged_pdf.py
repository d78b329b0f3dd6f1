#!/usr/bin/python3
"""Damaged PDFs for the repair tests: OUT KIND, KIND one of
  xref      - one xref entry points into the header (qpdf must rebuild the table)
  signed    - the same damage in a file holding a signature dictionary (/ByteRange)
  hostile   - a Flate object stream holding a catalog with a million-number array
  dupkey    - harmless: the catalog has /Type twice and startxref points at the newline
              before "xref" (accepted as it is, and logged)
Deterministic; standard library only."""
import sys
import zlib


def build(objs, bad_entry=None):
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offs = {}
    for num, body in objs:
        offs[num] = len(out)
        out += b"%d 0 obj\n" % num + body + b"\nendobj\n"
    n = max(offs) + 1
    xo = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f\r\n" % n
    for i in range(1, n):
        off = 3 if i == bad_entry else offs[i]
        out += b"%010d 00000 n\r\n" % off
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (n, xo)
    return bytes(out)


content = b"BT /F1 24 Tf 72 720 Td (Pogodba: Janez Novak) Tj ET"
page = [(2, b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>"),
        (3, b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
            b"/Resources << /Font << /F1 5 0 R >> >> >>"),
        (4, b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream"),
        (5, b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")]
out, kind = sys.argv[1], sys.argv[2]
if kind == "xref":
    data = build([(1, b"<< /Type /Catalog /Pages 2 0 R >>")] + page, bad_entry=1)
elif kind == "signed":
    data = build([(1, b"<< /Type /Catalog /Pages 2 0 R /AcroForm << /Fields [6 0 R] >> >>")] + page +
                 [(6, b"<< /FT /Sig /T (S1) /V 7 0 R /Rect [0 0 0 0] /Type /Annot /Subtype /Widget >>"),
                  (7, b"<< /Type /Sig /Filter /Adobe.PPKLite /ByteRange [0 10 20 30] /Contents <00> >>")],
                 bad_entry=1)
elif kind == "dupkey":
    data = build([(1, b"<< /Type /Catalog /Pages 2 0 R /Type /Catalog >>")] + page)
    i = data.rindex(b"startxref\n") + len(b"startxref\n")
    j = data.index(b"\n", i)
    data = data[:i] + b"%d" % (int(data[i:j]) - 1) + data[j:]
elif kind == "hostile":
    arr = b"[" + b" ".join(b"%d" % (i % 1000) for i in range(1000000)) + b"]"
    cat = b"<< /Type /Catalog /Pages 2 0 R /Big " + arr + b" >>"
    head = b"1 0 "
    body = zlib.compress(head + cat, 9)
    stm = b"<< /Type /ObjStm /N 1 /First %d /Filter /FlateDecode /Length %d >>\nstream\n" % (
        len(head), len(body)) + body + b"\nendstream"
    # objects: 6 = the object stream; 1 lives inside it; an xref stream indexes both
    objs = page + [(6, stm)]
    out_b = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offs = {}
    for num, b in objs:
        offs[num] = len(out_b)
        out_b += b"%d 0 obj\n" % num + b + b"\nendobj\n"
    xo = len(out_b)
    rows = bytearray()
    for i in range(0, 8):
        if i == 0:
            rows += bytes([0, 0, 0, 0, 0xff, 0xff])
        elif i == 1:
            rows += bytes([2, 0, 0, 0, 6, 0])
        elif i == 7:
            rows += bytes([1]) + xo.to_bytes(4, "big") + b"\0"
        else:
            rows += bytes([1]) + offs[i].to_bytes(4, "big") + b"\0"
    out_b += b"7 0 obj\n<< /Type /XRef /Size 8 /W [1 4 1] /Root 1 0 R /Length %d >>\nstream\n" % len(rows)
    out_b += rows + b"\nendstream\nendobj\nstartxref\n%d\n%%%%EOF\n" % xo
    data = bytes(out_b)
else:
    sys.exit("unknown kind " + kind)
open(out, "wb").write(data)
