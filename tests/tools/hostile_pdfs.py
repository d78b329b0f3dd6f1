#!/usr/bin/python3
"""Writes the hostile/damaged PDF corpus (issue 18) into OUTDIR, plus OUTDIR/expect.tsv.

Usage: hostile_pdfs.py OUTDIR [NAME...]      (python3 standard library only; deterministic)

expect.tsv has one line per file, `name<TAB>outcome<TAB>what`, where outcome is
  ok               pdf_prepare must accept it and original||update must check clean;
  refuse-<code>    it must be refused with C2S_ERR_PDF_<CODE> (damaged, unsupported, notpdf, ...);
  refuse-any-pdf   any C2S_ERR_PDF_* refusal will do, but within the time and memory budget.
The first line is clean.pdf, the baseline the harness (tests/unit/pdf_hostile_test.c) measures
every other file against.

Every file is written by hand here with offsets computed by a small writer (classic xref table,
or xref stream with optional Flate object streams), so each defect is exactly the one named and
nothing else is wrong. The hostile files are shaped like an attacker's: 60 KB - 1 MB on disk,
however large their object graph or inflated streams are.
"""
import os
import shutil
import sys
import zlib

HEADER = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"
CONTENT = b"BT /F1 24 Tf 72 760 Td (Click2Sign hostile corpus) Tj ET"
HERE = os.path.dirname(os.path.abspath(__file__))


def b(x):
    return x if isinstance(x, bytes) else x.encode("latin-1")


def refs(nums):
    """'n 0 R' for each number, space separated (a PDF array's inside)."""
    return " ".join("%d 0 R" % n for n in nums)


def stream(dict_inside, data, length=None, flate=False):
    """A stream object's body; `length` overrides the true /Length (a defect)."""
    data = b(data)
    if flate:
        data = zlib.compress(data, 9)
        dict_inside += " /Filter /FlateDecode"
    n = len(data) if length is None else length
    return b"<< %s /Length %d >>\nstream\n" % (b(dict_inside), n) + data + b"\nendstream"


def base_objects(catalog_extra="", page_extra="", annots=None):
    """Catalog 1, Pages 2, Page 3, content 4, font 5: the clean one-page document."""
    page_annots = " /Annots %s" % annots if annots else ""
    return {
        1: "<< /Type /Catalog /Pages 2 0 R%s >>" % catalog_extra,
        2: "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        3: "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
        "/Resources << /Font << /F1 5 0 R >> >>%s%s >>" % (page_annots, page_extra),
        4: stream("", CONTENT),
        5: "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    }


def body(objs, out, offsets, wrong_offset=None):
    for num in sorted(objs):
        offsets[num] = len(out)
        out += b"%d 0 obj\n" % num + b(objs[num]) + b"\nendobj\n"
    if wrong_offset:  # {num: other}: num's xref entry points at other's object
        for num, other in wrong_offset.items():
            offsets[num] = offsets[other]


def classic(objs, root=1, size=None, first=0, startxref_delta=0, wrong_offset=None,
            trailer_extra=""):
    """A file with one classic xref table; `first`=1 leaves object 0 out of the table."""
    out = bytearray(HEADER)
    offsets = {}
    body(objs, out, offsets, wrong_offset)
    top = max(objs) + 1
    xref = len(out)
    out += b"xref\n%d %d\n" % (first, top - first)
    for num in range(first, top):
        if num in offsets:
            out += b"%010d 00000 n \n" % offsets[num]
        else:
            out += b"%010d %05d f \n" % (0, 65535 if num == 0 else 0)
    out += b"trailer\n<< /Size %d /Root %d 0 R%s >>\nstartxref\n%d\n%%%%EOF\n" % (
        top if size is None else size, root, b(trailer_extra), xref + startxref_delta)
    return bytes(out)


def objstm(members):
    """(header+objects bytes, /First) of an object stream holding {num: body}."""
    head, data = [], bytearray()
    for num in sorted(members):
        head.append("%d %d" % (num, len(data)))
        data += b(members[num]) + b"\n"
    h = b(" ".join(head)) + b"\n"
    return h + bytes(data), len(h)


def xrefstream(objs, packed=None, root=1, chunk=None, size=None, index_top=None,
               bad_offset=None, xref_length_delta=0):
    """A file with an xref stream. `packed` {num: body} go into Flate object streams of `chunk`
    objects each (one stream when None); `size` overrides /Size (then /Index still covers every
    object); `bad_offset` {num: offset} writes a wrong offset into an object stream's header."""
    packed = dict(packed or {})
    out = bytearray(HEADER)
    offsets = {}
    body(objs, out, offsets)
    top = max(list(objs) + list(packed)) + 1
    entries = {}  # num -> (type, f2, f3)
    nums = sorted(packed)
    step = chunk or max(1, len(nums))
    stm = top
    for i in range(0, len(nums), step):
        group = {n: packed[n] for n in nums[i:i + step]}
        data, first = objstm(group)
        for num, off in (bad_offset or {}).items():
            if num in group:
                data, first = fix_header(group, off, num)
        offsets[stm] = len(out)
        out += b"%d 0 obj\n" % stm + stream(
            "/Type /ObjStm /N %d /First %d" % (len(group), first), data, flate=True) + \
            b"\nendobj\n"
        for idx, num in enumerate(sorted(group)):
            entries[num] = (2, stm, idx)
        stm += 1
    for num, off in offsets.items():
        entries[num] = (1, off, 0)
    xnum = stm
    entries[xnum] = (1, len(out), 0)
    n = xnum + 1
    rows = bytearray()
    for num in range(n):
        t, f2, f3 = entries.get(num, (0, 0, 65535 if num == 0 else 0))
        rows += bytes([t]) + f2.to_bytes(4, "big") + f3.to_bytes(2, "big")
    xref = len(out)
    d = "/Type /XRef /W [1 4 2] /Index [0 %d] /Size %d /Root %d 0 R" % (
        n, n if size is None else size, root)
    xs = stream(d, bytes(rows), flate=True)
    if xref_length_delta:  # the xref stream's own /Length wrong
        import re
        xs = re.sub(rb"/Length (\d+)", lambda m: b"/Length %d" % (int(m.group(1)) + xref_length_delta), xs, 1)
    out += b"%d 0 obj\n" % xnum + xs + b"\nendobj\n"
    out += b"startxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)


def fix_header(group, off, bad):
    """An object stream of `group` whose header gives object `bad` the offset `off`."""
    head, data = [], bytearray()
    for num in sorted(group):
        head.append("%d %d" % (num, off if num == bad else len(data)))
        data += b(group[num]) + b"\n"
    h = b(" ".join(head)) + b"\n"
    return h + bytes(data), len(h)


# ---- the cases -----------------------------------------------------------------------------


def clean():
    return classic(base_objects())


def clean_xrefstream():
    o = base_objects()
    return xrefstream({4: o.pop(4)}, packed=o)


def sig_selfkid(n):
    o = base_objects(" /AcroForm 6 0 R")
    o[6] = "<< /Fields [7 0 R] >>"
    # no /T: a terminal-looking empty signature field, whose kids must all be looked at
    o[7] = "<< /FT /Sig /Kids [%s] >>" % refs([7] * n)
    return classic(o)


def field_dag(levels):
    o = base_objects(" /AcroForm 6 0 R")
    o[6] = "<< /Fields [7 0 R] >>"
    for i in range(levels):
        num = 7 + i
        parent = " /Parent %d 0 R" % (num - 1) if i else ""
        o[num] = "<< /T (n%d) /FT /Sig /Kids [%d 0 R %d 0 R]%s >>" % (i, num + 1, num + 1, parent)
    last = 7 + levels
    o[last] = "<< /Type /Annot /Subtype /Widget /Rect [0 0 0 0] /P 3 0 R /Parent %d 0 R >>" % (
        last - 1)
    return classic(o)


def field_cycle():
    o = base_objects(" /AcroForm 6 0 R")
    o[6] = "<< /Fields [7 0 R] >>"
    o[7] = "<< /T (A) /FT /Sig /Kids [8 0 R] /Parent 8 0 R >>"
    o[8] = "<< /T (B) /Parent 7 0 R /Kids [7 0 R] >>"
    return classic(o)


def page_cycle():
    o = base_objects()
    o[2] = "<< /Type /Pages /Kids [6 0 R] /Count 1 >>"
    o[6] = "<< /Type /Pages /Parent 2 0 R /Kids [2 0 R 3 0 R] /Count 1 >>"
    o[3] = o[3].replace("/Parent 2 0 R", "/Parent 6 0 R")
    return classic(o)


def field_deep(n):
    o = base_objects(" /AcroForm 6 0 R")
    o[6] = "<< /Fields [7 0 R] >>"
    for i in range(n):
        num = 7 + i
        parent = " /Parent %d 0 R" % (num - 1) if i else ""
        o[num] = "<< /T (d) /Kids [%d 0 R]%s >>" % (num + 1, parent)
    last = 7 + n
    o[last] = "<< /T (s) /FT /Sig /Parent %d 0 R >>" % (last - 1)
    return classic(o)


def page_deep(n):
    o = base_objects()
    o[2] = "<< /Type /Pages /Kids [6 0 R] /Count 1 >>"
    for i in range(n):
        num = 6 + i
        kid = num + 1 if i + 1 < n else 3
        o[num] = "<< /Type /Pages /Parent %d 0 R /Kids [%d 0 R] /Count 1 >>" % (
            num - 1 if i else 2, kid)
    o[3] = o[3].replace("/Parent 2 0 R", "/Parent %d 0 R" % (6 + n - 1))
    return classic(o)


def pages_wide(n, shared):
    o = base_objects()
    node = "<< /Type /Pages /Parent 2 0 R /Count 1 /Kids [] >>"
    if shared:
        o[6] = node
        o[2] = "<< /Type /Pages /Kids [%s 3 0 R] /Count %d >>" % (refs([6] * n), n + 1)
        return classic(o)
    nodes = list(range(10, 10 + n))
    packed = {k: node for k in nodes}
    packed[2] = "<< /Type /Pages /Kids [%s 3 0 R] /Count %d >>" % (refs(nodes), n + 1)
    del o[2]
    return xrefstream(o, packed=packed)


def fields_same(n):
    o = base_objects(" /AcroForm 6 0 R")
    del o[1]
    packed = {
        1: "<< /Type /Catalog /Pages 2 0 R /AcroForm 6 0 R >>",
        6: "<< /Fields [%s] >>" % refs([7] * n),
        7: "<< /FT /Tx /T (same) >>",
    }
    return xrefstream(o, packed=packed)


def fields_distinct(n):
    o = base_objects(" /AcroForm 6 0 R")
    nums = list(range(10, 10 + n))
    packed = {k: "<< /FT /Tx /T (f%d) >>" % k for k in nums}
    packed[6] = "<< /Fields [%s] >>" % refs(nums)
    return xrefstream(o, packed=packed, chunk=1000)


def catalog_ints(n):
    o = base_objects()
    ints = " ".join(str(i % 10) for i in range(n))
    packed = {1: "<< /Type /Catalog /Pages 2 0 R /C2SJunk [%s] >>" % ints}
    del o[1]
    return xrefstream(o, packed=packed)


def objstm_bad_offset():
    o = base_objects()
    packed = {3: o.pop(3), 5: o.pop(5)}
    return xrefstream(o, packed=packed, bad_offset={3: 5000})


def objstm_bomb(mb):
    """Catalog at the end of an object stream that inflates to `mb` MB (mostly spaces)."""
    o = base_objects()
    del o[1]
    pad = mb * 1000 * 1000
    catalog = b"<< /Type /Catalog /Pages 2 0 R >>\n"
    head = b"1 %d\n" % pad
    z = zlib.compressobj(9)
    parts = [z.compress(head)]
    chunk = b" " * (1 << 20)
    left = pad
    while left:
        k = min(left, len(chunk))
        parts.append(z.compress(chunk[:k]))
        left -= k
    parts.append(z.compress(catalog))
    parts.append(z.flush())
    data = b"".join(parts)
    o[6] = b"<< /Type /ObjStm /N 1 /First %d /Filter /FlateDecode /Length %d >>\nstream\n" % (
        len(head), len(data)) + data + b"\nendstream"
    out = bytearray(HEADER)
    offsets = {}
    body(o, out, offsets)
    entries = {num: (1, off, 0) for num, off in offsets.items()}
    entries[1] = (2, 6, 0)
    entries[7] = (1, len(out), 0)
    rows = bytearray()
    for num in range(8):
        t, f2, f3 = entries.get(num, (0, 0, 65535))
        rows += bytes([t]) + f2.to_bytes(4, "big") + f3.to_bytes(2, "big")
    xref = len(out)
    out += b"7 0 obj\n" + stream("/Type /XRef /W [1 4 2] /Size 8 /Root 1 0 R", bytes(rows),
                                 flate=True) + b"\nendobj\n"
    out += b"startxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)


def field_on_pages(n):
    o = base_objects(" /AcroForm 6 0 R")
    pages = list(range(10, 10 + n))
    o[2] = "<< /Type /Pages /Kids [%s] /Count %d >>" % (refs(pages), n)
    del o[3]
    for p in pages:
        o[p] = ("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
                "/Resources << /Font << /F1 5 0 R >> >> /Annots [7 0 R] >>")
    o[6] = "<< /Fields [7 0 R] >>"
    # a text field: an empty signature field would be filled, and the output checks
    # assume a new field
    o[7] = ("<< /Type /Annot /Subtype /Widget /FT /Tx /T (Shared) /Rect [0 0 0 0] "
            "/P 10 0 R /F 132 >>")
    return classic(o)


def dupkey_catalog():
    return classic(base_objects(" /PageLayout /SinglePage /PageLayout /SinglePage"))


def dupkey_page():
    return classic(base_objects(page_extra=" /Rotate 0 /Rotate 0"))


def size_too_large():
    o = base_objects()
    o[6] = "<< /Producer (c2s hostile corpus) >>"
    o[7] = "<< /Marked false >>"
    o[8] = "[0 0 595 842]"
    return classic(o, size=1000)


def startxref_newline():
    return classic(base_objects(), startxref_delta=-1)


def xref_from_1():
    return classic(base_objects(), first=1)


def xref_length_wrong(delta):
    return xrefstream(base_objects(), xref_length_delta=delta)


def length_wrong(delta):
    o = base_objects()
    o[4] = stream("", CONTENT, length=len(CONTENT) + delta)
    return classic(o)


def fields_is_annots():
    o = base_objects(" /AcroForm 6 0 R", annots="8 0 R")
    o[6] = "<< /Fields 8 0 R /DA (/Helv 0 Tf 0 g) >>"
    o[7] = ("<< /Type /Annot /Subtype /Widget /FT /Tx /T (Name) /Rect [72 700 300 720] "
            "/P 3 0 R /F 4 >>")
    o[8] = "[7 0 R]"
    return classic(o)


def signpdf():
    with open(os.path.join(HERE, "fixtures", "signpdf-signed.pdf"), "rb") as f:
        return f.read()


def size_too_small_table():
    o = base_objects()
    o[6] = "<< /Producer (c2s hostile corpus) >>"
    o[7] = "<< /Marked false >>"
    o[8] = "[0 0 595 842]"
    return classic(o, size=5, trailer_extra=" /Info 6 0 R")


def size_too_small_xrefstream():
    o = base_objects()
    packed = {6: "<< /Producer (c2s hostile corpus) >>", 7: "<< /Marked false >>",
              5: o.pop(5)}
    return xrefstream(o, packed=packed, size=5)


def xref_wrong_object():
    return classic(base_objects(), wrong_offset={3: 5})


def truncated():
    whole = classic(base_objects())
    return whole[: len(whole) * 6 // 10]


def notpdf_zip():
    return b"PK\x03\x04" + b"\x00" * 26 + b"not a pdf, a zip local header" + b"\x00" * 200


# name, outcome, what, maker: clean.pdf first (the baseline)
CASES = [
    ("clean.pdf", "ok", "baseline: one page, classic xref", clean),
    ("ok-clean-xrefstream.pdf", "ok", "one page, xref stream, object stream", clean_xrefstream),
    ("hostile-sig-selfkid-10000.pdf", "refuse-any-pdf",
     "signature field (no /T) listing itself as a kid 10,000 times (illegal: a cycle)",
     lambda: sig_selfkid(10000)),
    ("hostile-sig-selfkid-1000.pdf", "refuse-any-pdf",
     "signature field (no /T) listing itself as a kid 1,000 times (illegal: a cycle)",
     lambda: sig_selfkid(1000)),
    ("hostile-field-dag-24.pdf", "refuse-any-pdf",
     "field tree of 24 levels, each /Kids [next next]: 2^24 paths (illegal: shared kids)",
     lambda: field_dag(24)),
    ("hostile-field-cycle.pdf", "refuse-any-pdf", "field tree cycle A -> B -> A (illegal)",
     field_cycle),
    ("hostile-page-cycle.pdf", "refuse-any-pdf", "page tree cycle Pages -> node -> Pages (illegal)",
     page_cycle),
    ("hostile-field-deep-10000.pdf", "refuse-any-pdf",
     "field tree 10,000 deep, one kid each (legal, over any sane depth budget)",
     lambda: field_deep(10000)),
    ("hostile-page-deep-10000.pdf", "refuse-any-pdf",
     "page tree 10,000 deep, one kid each (legal, over any sane depth budget)",
     lambda: page_deep(10000)),
    ("hostile-pages-wide-50000.pdf", "refuse-any-pdf",
     "root /Kids lists 50,000 distinct nodes with /Count 1 and empty /Kids, then the page "
     "(lying counts; object streams)", lambda: pages_wide(50000, False)),
    ("hostile-pages-wide-50000-shared.pdf", "refuse-any-pdf",
     "root /Kids lists one node with /Count 1 and empty /Kids 50,000 times, then the page "
     "(lying counts, shared kid)", lambda: pages_wide(50000, True)),
    ("hostile-fields-1m-same.pdf", "refuse-any-pdf",
     "/Fields holds 1,000,000 references to one field (object stream, 6 MB inflated)",
     lambda: fields_same(1000000)),
    ("hostile-fields-200k-distinct.pdf", "refuse-any-pdf",
     "/Fields of 200,000 distinct small text fields (object streams): over the budget",
     lambda: fields_distinct(200000)),
    ("hostile-catalog-1m-ints.pdf", "refuse-unsupported",
     "catalog with a direct array of 1,000,000 integers (legal; object stream, 2 MB inflated; "
     "qpdf would hold it as 260 MB of objects)",
     lambda: catalog_ints(1000000)),
    ("damaged-objstm-offset.pdf", "refuse-damaged",
     "object stream whose header puts the page past the end of the stream",
     objstm_bad_offset),
    ("hostile-objstm-bomb-200mb.pdf", "refuse-any-pdf",
     "Flate object stream holding the catalog inflates to 200 MB", lambda: objstm_bomb(200)),
    ("ok-field-on-1000-pages.pdf", "ok",
     "one text-field widget in the /Annots of 1,000 pages and in /Fields (illegal: "
     "ISO 32000-1 12.5.2, one page per annotation; harmless to a new signature: the "
     "engine never walks the pages' /Annots)", lambda: field_on_pages(1000)),
    ("ok-dupkey-catalog.pdf", "ok", "catalog with a duplicated key (/PageLayout twice)",
     dupkey_catalog),
    ("ok-dupkey-page.pdf", "ok", "page with a duplicated key (/Rotate twice)", dupkey_page),
    ("ok-size-too-large.pdf", "ok", "trailer /Size 1000 for 8 objects", size_too_large),
    ("ok-startxref-newline.pdf", "ok", "startxref points at the newline before xref",
     startxref_newline),
    ("ok-xref-from-1.pdf", "ok", "xref subsection starts at 1 (no entry for object 0)",
     xref_from_1),
    ("ok-length-too-long.pdf", "ok", "content stream /Length 10 bytes too long",
     lambda: length_wrong(10)),
    ("ok-length-too-short.pdf", "ok", "content stream /Length 10 bytes too short",
     lambda: length_wrong(-10)),
    ("damaged-xrefstream-length.pdf", "refuse-damaged",
     "the xref stream's own /Length 4 bytes short: qpdf recovers it, but the signed file's "
     "chain of sections would carry it (validators complain)", lambda: xref_length_wrong(-4)),
    ("ok-fields-is-annots.pdf", "ok",
     "AcroForm /Fields is the same indirect array as the page's /Annots", fields_is_annots),
    ("ok-signpdf.pdf", "ok",
     "signed once by @signpdf/signpdf 3.3 (tests/tools/fixtures; startxref at the newline)",
     signpdf),
    ("ok-size-too-small-table.pdf", "ok",
     "trailer /Size 5 but objects up to 8 in the table: new objects must be numbered past 8",
     size_too_small_table),
    ("ok-size-too-small-xrefstream.pdf", "ok",
     "xref stream /Size 5, /Index up to 9, objects 5-7 in an object stream: new numbers past 9",
     size_too_small_xrefstream),
    ("damaged-xref-wrong-object.pdf", "refuse-damaged",
     "xref entry of object 3 (the page) points at object 5", xref_wrong_object),
    ("damaged-truncated.pdf", "refuse-damaged", "file cut at 60 % (no xref, no trailer)",
     truncated),
    ("notpdf-zip.pdf", "refuse-notpdf", "a zip header, no %PDF-", notpdf_zip),
]


def main(argv):
    if len(argv) < 2:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    out = argv[1]
    only = set(argv[2:])
    os.makedirs(out, exist_ok=True)
    lines = []
    for name, outcome, what, make in CASES:
        if only and name not in only:
            continue
        with open(os.path.join(out, name), "wb") as f:
            f.write(make())
        lines.append("%s\t%s\t%s\n" % (name, outcome, what))
    with open(os.path.join(out, "expect.tsv"), "w") as f:
        f.writelines(lines)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
