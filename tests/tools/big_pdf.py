#!/usr/bin/env python3
"""A PDF of about BYTES bytes: one page showing one uncompressed 1000-pixel-wide grey image of
random bytes (nothing compresses), classic xref table. For the size benchmarks
(tests/bench/run.sh, tests/bench/seal_hash.sh).

Usage: big_pdf.py OUT BYTES"""
import os, sys
out, size = sys.argv[1], int(sys.argv[2])
w = 1000
h = max((size - 1000) // w, 1)
objs = [b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /XObject << /Im1 5 0 R >> >> /Contents 4 0 R >>"]
content = b"q 500 0 0 700 56 46 cm /Im1 Do Q"
offs = []
with open(out, "wb") as f:
    f.write(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    for i, o in enumerate(objs, 1):
        offs.append(f.tell()); f.write(b"%d 0 obj\n%s\nendobj\n" % (i, o))
    offs.append(f.tell())
    f.write(b"4 0 obj\n<< /Length %d >>\nstream\n%s\nendstream\nendobj\n" % (len(content), content))
    offs.append(f.tell())
    f.write(b"5 0 obj\n<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceGray"
            b" /BitsPerComponent 8 /Length %d >>\nstream\n" % (w, h, w * h))
    left = w * h
    while left:
        n = min(left, 1 << 22); f.write(os.urandom(n)); left -= n
    f.write(b"\nendstream\nendobj\n")
    x = f.tell()
    f.write(b"xref\n0 6\n0000000000 65535 f \n")
    for o in offs:
        f.write(b"%010d 00000 n \n" % o)
    f.write(b"trailer\n<< /Size 6 /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % x)
