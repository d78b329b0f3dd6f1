#!/usr/bin/env bash
# Makes the PDF test corpus in OUTDIR with real producers (Debian packages) plus a few
# hand-written edge cases. One line per file: "<name> <bytes> <what>". Exits non-zero when
# a required producer fails; optional producers (Chromium) are skipped with a note.
#
# Files named refuse-<code>-*.pdf must be refused with C2S_ERR_PDF_<CODE>; all others must
# be signable. Usage: make_corpus.sh OUTDIR
set -euo pipefail

OUT=${1:?usage: make_corpus.sh OUTDIR}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
PY=/usr/bin/python3
export SOURCE_DATE_EPOCH=1700000000

say() { printf '%-36s %8s  %s\n' "$1" "$(stat -c %s "$OUT/$1")" "$2"; }
need() { command -v "$1" >/dev/null || { echo "missing required producer: $1" >&2; exit 1; }; }
for t in ps2pdf pdftocairo mutool qpdf; do need "$t"; done
[ -x "$PY" ] || { echo "missing $PY" >&2; exit 1; }

# --- Ghostscript: two pages, a non-ASCII (UTF-16) title through pdfmark.
cat >"$WORK/doc.ps" <<'PS'
%!PS-Adobe-3.0
[ /Title <FEFF010C0061010D0061006B002001600069006200650020017D006900720069> /Author (Click2Sign tests) /DOCINFO pdfmark
/Helvetica findfont 20 scalefont setfont
72 720 moveto (Click2Sign test document, page 1) show
72 690 moveto (Signed with an invisible PAdES signature.) show
showpage
/Helvetica findfont 20 scalefont setfont
72 720 moveto (Page 2) show
showpage
PS
ps2pdf -dPDFSETTINGS=/prepress "$WORK/doc.ps" "$OUT/gs.pdf"
say gs.pdf "Ghostscript ps2pdf, 2 pages, UTF-16 title"

# --- cairo (poppler pdftocairo) from the Ghostscript file.
pdftocairo -pdf "$OUT/gs.pdf" "$OUT/cairo.pdf"
say cairo.pdf "poppler/cairo pdftocairo -pdf"

# --- MuPDF from content files.
printf '%%%%MediaBox 0 0 595 842\n%%%%Font F1 Helvetica\nBT /F1 24 Tf 72 760 Td (Hello from MuPDF) Tj ET\n' >"$WORK/p1.txt"
printf '%%%%MediaBox 0 0 595 842\n%%%%Font F1 Helvetica\nBT /F1 24 Tf 72 760 Td (Second page) Tj ET\n' >"$WORK/p2.txt"
mutool create -o "$OUT/mupdf.pdf" "$WORK/p1.txt" "$WORK/p2.txt"
say mupdf.pdf "MuPDF mutool create"

# --- qpdf: object streams (xref stream), linearized (table and stream), encrypted.
qpdf --object-streams=generate "$OUT/gs.pdf" "$OUT/qpdf-objstm.pdf"
say qpdf-objstm.pdf "qpdf --object-streams=generate (xref stream)"
qpdf --linearize "$OUT/mupdf.pdf" "$OUT/qpdf-linear.pdf"
say qpdf-linear.pdf "qpdf --linearize (xref tables)"
qpdf --linearize --object-streams=generate "$OUT/gs.pdf" "$OUT/qpdf-linear-objstm.pdf"
say qpdf-linear-objstm.pdf "qpdf --linearize --object-streams=generate"
qpdf --encrypt user owner 256 -- "$OUT/gs.pdf" "$OUT/refuse-encrypted-user.pdf"
say refuse-encrypted-user.pdf "qpdf --encrypt, AES-256 with an open password"
qpdf --encrypt "" owner 128 --use-aes=y -- "$OUT/mupdf.pdf" "$OUT/refuse-encrypted-owner.pdf"
say refuse-encrypted-owner.pdf "qpdf --encrypt, AES-128, owner password only"

# --- pypdf rewrite, then hand-written edge cases (offsets computed, no guessing).
"$PY" - "$OUT" <<'PY'
import sys, zlib, pypdf
from pypdf.generic import NameObject, TextStringObject
out = sys.argv[1]

r = pypdf.PdfReader(f"{out}/mupdf.pdf")
w = pypdf.PdfWriter()
for p in r.pages:
    w.add_page(p)
w.add_metadata({"/Title": "pypdf rewrite", "/Producer": "pypdf"})
with open(f"{out}/pypdf.pdf", "wb") as f:
    w.write(f)

PAGE = b"BT /F1 18 Tf 72 760 Td (%s) Tj ET"
FONT = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"

def stream(data, extra=b""):
    return b"<< /Length %d%s >>\nstream\n%s\nendstream" % (len(data), extra, data)

def build(objs, trailer=b"", version=b"1.4", eol=b"\n", tail=b"%%EOF\n"):
    """objs: {num: bytes}; returns a classic-xref PDF (one section)."""
    body = b"%PDF-" + version + eol + b"%\xe2\xe3\xcf\xd3" + eol
    offs = {}
    for n in sorted(objs):
        offs[n] = len(body)
        body += b"%d 0 obj" % n + eol + objs[n] + eol + b"endobj" + eol
    size = max(objs) + 1
    x = len(body)
    body += b"xref" + eol + b"0 %d" % size + eol + b"0000000000 65535 f\r\n"
    for n in range(1, size):
        body += (b"%010d 00000 n\r\n" % offs[n]) if n in offs else b"0000000000 00000 f\r\n"
    body += b"trailer" + eol + b"<< /Size %d /Root 1 0 R %s>>" % (size, trailer) + eol
    body += b"startxref" + eol + b"%d" % x + eol + tail
    return body

def simple(extra_cat=b"", page_extra=b"", more=None):
    o = {1: b"<< /Type /Catalog /Pages 2 0 R " + extra_cat + b">>",
         2: b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
         3: b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
            b"/Resources << /Font << /F1 5 0 R >> >> " + page_extra + b">>",
         4: stream(PAGE % b"hand-written"),
         5: FONT}
    o.update(more or {})
    return o

def save(name, data):
    with open(f"{out}/{name}", "wb") as f:
        f.write(data)

# CRLF line ends everywhere.
save("crlf.pdf", build(simple(), eol=b"\r\n", tail=b"%%EOF\r\n"))
# Bytes before the header (offsets count from %PDF-, as qpdf and Acrobat read them).
save("header-offset.pdf", b"junk before the header\n" * 3 + build(simple()))
# Bytes after %%EOF, no final newline.
with open(f"{out}/gs.pdf", "rb") as f:
    gs = f.read()
save("trailing-garbage.pdf", gs + b"\r\n\x00\x00garbage after eof \x1a")

# An earlier incremental update (new /Info), original kept as a prefix.
base = build(simple(), trailer=b"/ID [<00112233445566778899aabbccddeeff> <00112233445566778899aabbccddeeff>] ")
prev = base.rindex(b"startxref")
prev = int(base[prev + 9:].split()[0])
info_off = len(base)
upd = b"6 0 obj\n<< /Title (incremental) /Producer (hand) >>\nendobj\n"
x = len(base) + len(upd)
upd += b"xref\n6 1\n%010d 00000 n\r\n" % info_off
upd += b"trailer\n<< /Size 7 /Root 1 0 R /Info 6 0 R /Prev %d /ID [<00112233445566778899aabbccddeeff> <ffeeddccbbaa99887766554433221100>] >>\nstartxref\n%d\n%%%%EOF\n" % (prev, x)
save("incremental.pdf", base + upd)

# AcroForm (indirect) with an empty signature field and a text field named Signature1;
# /Annots indirect.
save("acroform-empty-sig.pdf", build(simple(
    extra_cat=b"/AcroForm 6 0 R ", page_extra=b"/Annots 9 0 R ",
    more={6: b"<< /Fields [7 0 R 8 0 R] /DA (/Helv 0 Tf 0 g) >>",
          7: b"<< /FT /Sig /T (Approval) /Type /Annot /Subtype /Widget /Rect [0 0 0 0] /F 132 /P 3 0 R >>",
          8: b"<< /FT /Tx /T (Signature1) /V (text) /Type /Annot /Subtype /Widget /Rect [50 50 200 70] /F 4 /P 3 0 R >>",
          9: b"[7 0 R 8 0 R]"})))
# AcroForm direct in the catalog, /Fields an indirect array, a field named Signature1,
# no empty signature field: a new field Signature2 must be made.
save("acroform-direct.pdf", build(simple(
    extra_cat=b"/AcroForm << /Fields 6 0 R >> ", page_extra=b"/Annots [7 0 R] ",
    more={6: b"[7 0 R]",
          7: b"<< /FT /Tx /T (Signature1) /V (x) /Type /Annot /Subtype /Widget /Rect [50 50 200 70] /P 3 0 R >>"})))
# Pages tree two levels deep, first node empty.
save("deep-pages.pdf", build({
    1: b"<< /Type /Catalog /Pages 2 0 R >>",
    2: b"<< /Type /Pages /Kids [6 0 R 7 0 R] /Count 1 >>",
    6: b"<< /Type /Pages /Parent 2 0 R /Kids [] /Count 0 >>",
    7: b"<< /Type /Pages /Parent 2 0 R /Kids [3 0 R] /Count 1 >>",
    3: b"<< /Type /Page /Parent 7 0 R /MediaBox [0 0 595 842] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
    4: stream(PAGE % b"deep pages"), 5: FONT}))

# Hybrid-reference file: object 5 (the font) lives in object stream 6, listed only by the
# xref stream 7 that the table's trailer names in /XRefStm.
o = simple()
del o[5]
objstm_body = b"5 0 " + FONT
o[6] = stream(objstm_body, b" /Type /ObjStm /N 1 /First 4")
body = b"%PDF-1.5\n%\xe2\xe3\xcf\xd3\n"
offs = {}
for n in sorted(o):
    offs[n] = len(body)
    body += b"%d 0 obj\n" % n + o[n] + b"\nendobj\n"
xs_off = len(body)
rows = bytes([2]) + (6).to_bytes(2, "big") + (0).to_bytes(2, "big")
body += b"7 0 obj\n" + stream(rows, b" /Type /XRef /Size 8 /W [1 2 2] /Index [5 1]") + b"\nendobj\n"
offs[7] = xs_off
x = len(body)
body += b"xref\n0 8\n0000000000 65535 f\r\n"
for n in range(1, 8):
    body += (b"%010d 00000 n\r\n" % offs[n]) if n in offs and n != 5 else b"0000000000 00000 f\r\n"
body += b"trailer\n<< /Size 8 /Root 1 0 R /XRefStm %d >>\nstartxref\n%d\n%%%%EOF\n" % (xs_off, x)
save("hybrid.pdf", body)

# Refusals.
save("refuse-certified-docmdp.pdf", build(simple(
    extra_cat=b"/Perms << /DocMDP 6 0 R >> ",
    more={6: b"<< /Type /Sig /Filter /Adobe.PPKLite /SubFilter /ETSI.CAdES.detached "
             b"/Reference [<< /Type /SigRef /TransformMethod /DocMDP "
             b"/TransformParams << /Type /TransformParams /P 1 /V /1.2 >> >>] "
             b"/ByteRange [0 0 0 0] /Contents <00> >>"})))
save("refuse-damaged-truncated.pdf", gs[: len(gs) * 6 // 10])
bad = bytearray(build(simple()))
i = bad.index(b"xref\n0 6\n") + len(b"xref\n0 6\n") + 20
bad[i:i + 10] = b"0000000003"  # object 1 points into the header
save("refuse-damaged-xref.pdf", bytes(bad))
save("refuse-notpdf-text.pdf", b"This is not a PDF file.\n" * 50)
PY
while read -r f what; do say "$f" "$what"; done <<'LIST'
pypdf.pdf pypdf rewrite of the MuPDF file, new /Info
crlf.pdf hand-written, CRLF line ends
header-offset.pdf hand-written, 69 bytes before %PDF-
trailing-garbage.pdf Ghostscript file + bytes after %%EOF, no final newline
incremental.pdf hand-written + an earlier incremental update (/Prev, new /ID)
acroform-empty-sig.pdf indirect AcroForm, empty signature field, text field Signature1
acroform-direct.pdf direct AcroForm, indirect /Fields, text field Signature1
deep-pages.pdf pages tree 2 levels, first kid empty
hybrid.pdf hybrid-reference file (table + /XRefStm, object in an object stream)
refuse-certified-docmdp.pdf /Perms /DocMDP with P 1
refuse-damaged-truncated.pdf Ghostscript file cut at 60%
refuse-damaged-xref.pdf xref entry points into the header
refuse-notpdf-text.pdf plain text
LIST

# --- Chromium print-to-PDF (optional until it is in scripts/deps.txt).
CHROME=$(command -v chromium || true)
if [ -n "$CHROME" ]; then
	printf '<html><head><meta charset="utf-8"><title>Čačak</title></head><body><h1>Chromium</h1><p>Žluťoučký kůň</p></body></html>' >"$WORK/c.html"
	timeout 120 "$CHROME" --headless --no-sandbox --disable-gpu --user-data-dir="$WORK/chr" \
		--print-to-pdf="$OUT/chromium.pdf" "file://$WORK/c.html" >/dev/null 2>&1
	say chromium.pdf "Chromium --print-to-pdf"
else
	echo "chromium.pdf: skipped (chromium is not installed)"
fi
