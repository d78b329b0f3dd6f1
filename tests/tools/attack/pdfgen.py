"""Tiny PDF builder for the attack corpus (stdlib only)."""
import zlib, struct

def build(objs, root=1, junk_after_header=b"", extra_trailer=b"", size=None,
          xref_stream=False, pre_xref=b"", tail=b""):
    """objs: dict num -> body bytes (without 'N 0 obj'/'endobj'), or ('raw', bytes) for
    bytes placed verbatim (not in the xref), or ('objstm', ...) handled by caller."""
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    out += junk_after_header
    offs = {}
    for num, body in objs.items():
        if isinstance(body, tuple) and body[0] == 'raw':
            out += body[1]
            continue
        offs[num] = len(out)
        out += b"%d 0 obj\n" % num + body + b"\nendobj\n"
    n = (max(offs) + 1) if offs else 1
    sz = size if size is not None else n
    out += pre_xref
    xo = len(out)
    if not xref_stream:
        out += b"xref\n0 %d\n0000000000 65535 f \n" % n
        for i in range(1, n):
            if i in offs:
                out += b"%010d 00000 n \n" % offs[i]
            else:
                out += b"0000000000 65535 f \n"
        out += b"trailer\n<< /Size %d /Root %d 0 R%s >>\n" % (sz, root, extra_trailer)
    else:
        raise NotImplementedError
    out += b"startxref\n%d\n%%%%EOF\n" % xo
    out += tail
    return bytes(out)

PAGES = {
    2: b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
    3: b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >>",
}

def zlib_with_prefix_stored(prefix, payload, level=9):
    """zlib stream: a stored deflate block holding `prefix` verbatim, then `payload`
    compressed. Inflates to prefix+payload."""
    raw = bytearray()
    raw += b"\x00" + struct.pack("<HH", len(prefix), len(prefix) ^ 0xffff) + prefix
    c = zlib.compressobj(level, zlib.DEFLATED, -15)
    raw += c.compress(payload) + c.flush()
    ad = zlib.adler32(prefix + payload)
    return b"\x78\x9c" + bytes(raw) + struct.pack(">I", ad)

def stream_obj(dict_body, data):
    return b"<< " + dict_body + b" /Length %d >>\nstream\n" % len(data) + data + b"\nendstream"

def build_xs(objs, stm_members=None, stm_num=None, stm_dict=b"/Type /ObjStm",
             stm_encode=None, root=1, junk_after_header=b"", size=None, extra=b""):
    """PDF with an xref stream. objs: num -> body (top level). stm_members: num -> body placed
    in object stream `stm_num`, whose data is encoded by stm_encode (default zlib) and whose
    dictionary gets stm_dict (plus /N /First /Length, and /Filter unless stm_dict has one)."""
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n") + junk_after_header
    offs = {}
    for num, body in objs.items():
        if isinstance(body, tuple):
            out += body[1]
            continue
        offs[num] = len(out)
        out += b"%d 0 obj\n" % num + body + b"\nendobj\n"
    inobj = {}
    if stm_members:
        hdr = bytearray(); data = bytearray()
        for i, (num, body) in enumerate(stm_members.items()):
            hdr += b"%d %d " % (num, len(data))
            data += body + b"\n"
            inobj[num] = (stm_num, i)
        plain = bytes(hdr) + bytes(data)
        enc = stm_encode(plain) if stm_encode else zlib.compress(plain, 9)
        d = stm_dict + b" /N %d /First %d" % (len(stm_members), len(hdr))
        if b"/Filter" not in stm_dict and not stm_encode:
            d += b" /Filter /FlateDecode"
        offs[stm_num] = len(out)
        out += b"%d 0 obj\n" % stm_num + stream_obj(d, enc) + b"\nendobj\n"
    xnum = max(list(offs) + list(inobj)) + 1
    offs[xnum] = len(out)
    n = xnum + 1
    rows = bytearray()
    for i in range(n):
        if i in offs: rows += bytes([1]) + struct.pack(">I", offs[i]) + b"\x00\x00"
        elif i in inobj: rows += bytes([2]) + struct.pack(">I", inobj[i][0]) + struct.pack(">H", inobj[i][1])
        else: rows += bytes([0]) + b"\x00\x00\x00\x00\xff\xff"
    xd = zlib.compress(bytes(rows))
    sz = size if size is not None else n
    out += b"%d 0 obj\n" % xnum + stream_obj(
        b"/Type /XRef /Size %d /W [1 4 2] /Root %d 0 R /Filter /FlateDecode%s" % (sz, root, extra), xd) + b"\nendobj\n"
    out += b"startxref\n%d\n%%%%EOF\n" % offs[xnum]
    return bytes(out)

def build_multi(objs, stms, root=1, size=None, extra=b""):
    """objs: num -> body; stms: list of (stm_num, {num: body}); all Flate, /Type /ObjStm."""
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offs, inobj = {}, {}
    for num, body in objs.items():
        offs[num] = len(out)
        out += b"%d 0 obj\n" % num + body + b"\nendobj\n"
    for stm_num, members in stms:
        hdr = bytearray(); data = bytearray()
        for i, (num, body) in enumerate(members.items()):
            hdr += b"%d %d " % (num, len(data)); data += body + b"\n"; inobj[num] = (stm_num, i)
        enc = zlib.compress(bytes(hdr) + bytes(data), 9)
        offs[stm_num] = len(out)
        out += b"%d 0 obj\n" % stm_num + stream_obj(
            b"/Type /ObjStm /N %d /First %d /Filter /FlateDecode" % (len(members), len(hdr)), enc) + b"\nendobj\n"
    xnum = max(list(offs) + list(inobj)) + 1
    offs[xnum] = len(out); n = xnum + 1
    rows = bytearray()
    for i in range(n):
        if i in offs: rows += bytes([1]) + struct.pack(">I", offs[i]) + b"\x00\x00"
        elif i in inobj: rows += bytes([2]) + struct.pack(">I", inobj[i][0]) + struct.pack(">H", inobj[i][1])
        else: rows += bytes([0]) + b"\x00\x00\x00\x00\xff\xff"
    out += b"%d 0 obj\n" % xnum + stream_obj(
        b"/Type /XRef /Size %d /W [1 4 2] /Root %d 0 R /Filter /FlateDecode%s" % (size or n, root, extra),
        zlib.compress(bytes(rows))) + b"\nendobj\n"
    out += b"startxref\n%d\n%%%%EOF\n" % offs[xnum]
    return bytes(out)
