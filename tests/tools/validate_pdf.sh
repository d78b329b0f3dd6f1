#!/bin/bash
# Validates a PAdES-signed PDF with independent tools; exits non-zero with a reason on the
# first failure.
#   validate_pdf.sh [--level B-B|B-T|B-LT] [--sigs N] SIGNED.pdf ORIGINAL.pdf ROOT.pem
# Checks: ORIGINAL is a byte prefix of SIGNED; `qpdf --check` clean; pdfsig (with an NSS db
# trusting ROOT) says every signature is valid, ours (the last) has a trusted certificate,
# type ETSI.CAdES.detached and covers the whole document (B-LT: everything after its range
# is one update adding /DSS); `openssl cms -verify` of the last /Contents over its
# /ByteRange; EN 319 142-1 attributes (content-type, message-digest, one
# signing-certificate-v2, no signing-time); B-T/B-LT: the signature time-stamp verifies
# with `openssl ts -verify` over the signature value; B-LT: /DSS holds the certificates, no
# stream twice, each CRL signed by its issuer, a CRL for every certificate of the signer's and
# the TSA's chains that names a distribution point, and a /VRI entry only naming /DSS streams.
# B-LT over B-LT: the last update may be a new revision of the /DSS object alone.
set -uo pipefail

LEVEL=B-B
SIGS=
while [ $# -gt 0 ]; do
	case $1 in
	--level) LEVEL=$2; shift 2 ;;
	--sigs) SIGS=$2; shift 2 ;;
	--) shift; break ;;
	-*) echo "validate_pdf.sh: unknown option $1" >&2; exit 2 ;;
	*) break ;;
	esac
done
[ $# -eq 3 ] || { echo "usage: validate_pdf.sh [--level B-B|B-T|B-LT] [--sigs N] SIGNED ORIGINAL ROOT" >&2; exit 2; }
SIGNED=$1 ORIG=$2 ROOT=$3
case $LEVEL in B-B | B-T | B-LT) ;; *) echo "validate_pdf.sh: bad level $LEVEL" >&2; exit 2 ;; esac

T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail() { echo "validate_pdf.sh: $SIGNED: $*" >&2; exit 1; }

# 1. byte prefix
osz=$(stat -c %s "$ORIG") || fail "cannot read $ORIG"
ssz=$(stat -c %s "$SIGNED") || fail "cannot read signed file"
[ "$ssz" -gt "$osz" ] || fail "signed file is not longer than the original"
cmp -s -n "$osz" "$ORIG" "$SIGNED" || fail "original is not a byte prefix of the signed file"

# 2. qpdf
# (warnings the original already has, a harmless producer defect the appliance accepts, may stay:
# compared without the file name)
qpdf --check "$SIGNED" >"$T/qpdf.txt" 2>&1
rc=$? # 3: warnings, judged below
[ $rc -eq 0 ] || [ $rc -eq 3 ] || fail "qpdf --check failed: $(tail -3 "$T/qpdf.txt")"
qpdf --check "$ORIG" >"$T/qpdf-orig.txt" 2>&1
grep -i "warning" "$T/qpdf.txt" | sed "s|$SIGNED||g" | sort -u >"$T/w-signed.txt"
grep -i "warning" "$T/qpdf-orig.txt" | sed "s|$ORIG||g" | sort -u >"$T/w-orig.txt"
new_w=$(comm -23 "$T/w-signed.txt" "$T/w-orig.txt")
[ -n "$new_w" ] && fail "qpdf --check warns: $(head -3 <<<"$new_w")"

# 3. pdfsig with an NSS db trusting ROOT
certutil -N -d "sql:$T/nss" --empty-password 2>/dev/null || { mkdir -p "$T/nss" && certutil -N -d "sql:$T/nss" --empty-password; } || fail "certutil -N failed"
certutil -A -d "sql:$T/nss" -n root -t "C,C,C" -i "$ROOT" || fail "certutil -A failed"
pdfsig -nssdir "sql:$T/nss" "$SIGNED" >"$T/pdfsig.txt" 2>&1 || fail "pdfsig failed: $(tail -3 "$T/pdfsig.txt")"
n=$(grep -c '^Signature #' "$T/pdfsig.txt")
[ "$n" -ge 1 ] || fail "pdfsig finds no signature"
[ -z "$SIGS" ] || [ "$n" -eq "$SIGS" ] || fail "pdfsig finds $n signatures, expected $SIGS"
valid=$(grep -c 'Signature Validation: Signature is Valid.' "$T/pdfsig.txt")
[ "$valid" -eq "$n" ] || fail "only $valid of $n signatures are valid: $(grep 'Signature Validation' "$T/pdfsig.txt" | sort | uniq -c | tr '\n' ' ')"
awk -v n="$n" '/^Signature #/{k++} k==n' "$T/pdfsig.txt" >"$T/last.txt"
CERT_NOTE=
if ! grep -q 'Certificate Validation: Certificate is Trusted.' "$T/last.txt"; then
	# poppler 22.12 reports "Unknown issue with Certificate or corrupted data." for a
	# signature whose certificate already signed an earlier revision (reproduced with two
	# signatures made by pdfsig -add-signature itself). Then the chain is checked by
	# `openssl cms -verify -CAfile ROOT` below instead.
	dn=$(grep 'Signer full Distinguished Name' "$T/last.txt")
	earlier=$(awk -v n="$n" '/^Signature #/{k++} k<n' "$T/pdfsig.txt" | grep -cF "$dn")
	if grep -q 'Unknown issue with Certificate' "$T/last.txt" && [ "$earlier" -gt 0 ]; then
		CERT_NOTE=" (pdfsig same-certificate quirk: trust checked by openssl)"
	else
		fail "our certificate is not trusted: $(grep 'Certificate Validation' "$T/last.txt")"
	fi
fi
grep -q 'Signature Type: ETSI.CAdES.detached' "$T/last.txt" || fail "signature type is not ETSI.CAdES.detached: $(grep 'Signature Type' "$T/last.txt")"
if [ "$LEVEL" != B-LT ]; then
	grep -q 'Total document signed' "$T/last.txt" || fail "the last signature does not cover the whole document"
fi

# 4. the last signature's CMS and signed bytes; B-LT: what follows is one /DSS update
/usr/bin/python3 - "$SIGNED" "$T" "$LEVEL" <<'PY' || exit 1
import re, sys
path, out, level = sys.argv[1:4]
data = open(path, "rb").read()
brs = list(re.finditer(rb"/ByteRange\s*\[\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*\]", data))
if not brs:
    sys.exit("validate_pdf.sh: no /ByteRange")
a, b, c, d = (int(x) for x in brs[-1].groups())
if a != 0 or c + d > len(data) or data[b:b + 1] != b"<" or data[c - 1:c] != b">":
    sys.exit("validate_pdf.sh: /ByteRange %r does not bracket /Contents" % ((a, b, c, d),))
der = bytes.fromhex(data[b + 1:c - 1].decode())
open(out + "/contents.bin", "wb").write(der)
if der[0] != 0x30:
    sys.exit("validate_pdf.sh: /Contents is not DER")
l = der[1]
hl = 2
if l & 0x80:
    k = l & 0x7F
    l, hl = int.from_bytes(der[2:2 + k], "big"), 2 + k
der = der[:hl + l]
if c + d != len(data):
    rest = data[c + d:]
    if level != "B-LT":
        sys.exit("validate_pdf.sh: %d bytes after the signed range" % len(rest))
    # a /DSS update: it adds /DSS to the catalog, or (B-LT over B-LT) writes a new revision
    # of the indirect /DSS dictionary the catalog already names; never another signature
    dss_obj = None
    m = re.search(rb"/DSS\s+(\d+)\s+(\d+)\s+R", data)
    if m:
        dss_obj = rb"%d %d obj" % (int(m.group(1)), int(m.group(2)))
    if b"/ByteRange" in rest or not (b"/DSS" in rest or (dss_obj and dss_obj in rest)):
        sys.exit("validate_pdf.sh: bytes after the signed range are not a /DSS update")
open(out + "/sig.der", "wb").write(der)
open(out + "/signed.bin", "wb").write(data[a:a + b] + data[c:c + d])

def tlv(buf, off):
    t, n = buf[off], buf[off + 1]
    off += 2
    if n & 0x80:
        k = n & 0x7F
        n = int.from_bytes(buf[off:off + k], "big")
        off += k
    return t, off, off + n

def children(buf, s, e):
    while s < e:
        t, cs, ce = tlv(buf, s)
        yield t, s, cs, ce
        s = ce

# ContentInfo -> [0] -> SignedData -> signerInfos (last SET) -> first SignerInfo
_, s, e = tlv(der, 0)
kids = list(children(der, s, e))
_, s, e = tlv(der, kids[1][2])
sd = list(children(der, s, e))
si = list(children(der, sd[-1][2], sd[-1][3]))[0]
parts = list(children(der, si[2], si[3]))
sig = [p for p in parts if p[0] == 0x04][0]
open(out + "/sigvalue.bin", "wb").write(der[sig[2]:sig[3]])
un = [p for p in parts if p[0] == 0xA1]
if un:
    for t, s0, cs, ce in children(der, un[0][2], un[0][3]):
        attr = list(children(der, cs, ce))
        if der[attr[0][2]:attr[0][3]] == bytes.fromhex("2a864886f70d010910020e"):
            v = list(children(der, attr[1][2], attr[1][3]))[0]
            open(out + "/token.der", "wb").write(der[v[1]:v[3]])
PY

openssl cms -verify -binary -inform DER -in "$T/sig.der" -content "$T/signed.bin" \
	-CAfile "$ROOT" -purpose any -out /dev/null 2>"$T/cms.txt" ||
	fail "openssl cms -verify failed: $(head -3 "$T/cms.txt")"

# 5. EN 319 142-1 / EN 319 122-1 attributes
openssl cms -cmsout -print -inform DER -in "$T/sig.der" >"$T/print.txt" 2>&1 || fail "openssl cms -print failed"
cnt() { grep -c "object: $1" "$T/print.txt"; }
[ "$(cnt 'contentType ')" -eq 1 ] || fail "content-type attribute count is $(cnt 'contentType ')"
[ "$(cnt messageDigest)" -eq 1 ] || fail "message-digest attribute count is $(cnt messageDigest)"
[ "$(cnt id-smime-aa-signingCertificateV2)" -eq 1 ] || fail "signing-certificate-v2 attribute count is $(cnt id-smime-aa-signingCertificateV2)"
[ "$(cnt signingTime)" -eq 0 ] || fail "signing-time present (forbidden in PAdES baseline)"
if [ "$LEVEL" != B-B ]; then
	[ "$(cnt id-smime-aa-timeStampToken)" -eq 1 ] || fail "signature time-stamp attribute missing"
	[ -s "$T/token.der" ] || fail "could not extract the time-stamp token"
	openssl ts -verify -data "$T/sigvalue.bin" -in "$T/token.der" -token_in -CAfile "$ROOT" \
		>"$T/ts.txt" 2>&1 || fail "openssl ts -verify over the signature value failed: $(tail -2 "$T/ts.txt")"
fi

# 6. B-LT: /DSS with the certificates, no stream twice, every CRL signed by its issuer (a
# certificate of the /DSS), and a CRL from the issuer of every certificate of the signer's and
# the time-stamp token's chains that names a CRL distribution point; /VRI of our signature,
# when there is one, names streams of the /DSS.
if [ "$LEVEL" = B-LT ]; then
	/usr/bin/python3 - "$SIGNED" "$T" <<'PY' || exit 1
import hashlib, os, sys
from cryptography import x509
from cryptography.hazmat.primitives.serialization import pkcs7
from pypdf import PdfReader
path, tmp = sys.argv[1:3]
def die(msg):
    sys.exit("validate_pdf.sh: " + msg)
r = PdfReader(path)
dss = r.trailer["/Root"].get("/DSS")
if dss is None:
    die("no /DSS in the catalog")
dss = dss.get_object()
certs = dss.get("/Certs")
if certs is None or len(certs.get_object()) < 2:
    die("/DSS /Certs missing or too short")
blobs = {}
for key in ("/Certs", "/CRLs", "/OCSPs"):
    arr = dss.get(key)
    seen = {}
    for ref in (arr.get_object() if arr is not None else []):
        data = ref.get_object().get_data()
        h = hashlib.sha256(data).hexdigest()
        if h in seen:
            die("/DSS %s holds the same %d bytes twice (objects %s and %s)" % (
                key, len(data), seen[h], getattr(ref, "idnum", "?")))
        seen[h] = getattr(ref, "idnum", "?")
        blobs.setdefault(key, []).append(data)
dss_certs = [x509.load_der_x509_certificate(d) for d in blobs.get("/Certs", [])]
dss_crls = [x509.load_der_x509_crl(d) for d in blobs.get("/CRLs", [])]
for crl in dss_crls:
    iss = [c for c in dss_certs if c.subject == crl.issuer]
    if not any(crl.is_signature_valid(c.public_key()) for c in iss):
        die("the /DSS CRL of %s is not signed by an issuer certificate in /DSS" %
            crl.issuer.rfc4514_string())
def cdp(c):
    try:
        ext = c.extensions.get_extension_for_class(x509.CRLDistributionPoints)
    except x509.ExtensionNotFound:
        return None
    for dp in ext.value:
        for n in dp.full_name or []:
            if isinstance(n, x509.UniformResourceIdentifier) and n.value.lower().startswith("http"):
                return n.value
    return None
def need_crls(der, what):
    for c in pkcs7.load_der_pkcs7_certificates(der):
        url = cdp(c)
        if url and not any(crl.issuer == c.issuer for crl in dss_crls):
            die("/DSS has no CRL for %s's certificate %s (its CDP is %s)" % (
                what, c.subject.rfc4514_string(), url))
need_crls(open(os.path.join(tmp, "sig.der"), "rb").read(), "the signer")
if os.path.exists(os.path.join(tmp, "token.der")):
    need_crls(open(os.path.join(tmp, "token.der"), "rb").read(), "the TSA")
vri = dss.get("/VRI")
if vri is not None:
    vri = vri.get_object()
    contents = open(os.path.join(tmp, "contents.bin"), "rb").read()
    key = "/" + hashlib.sha1(contents).hexdigest().upper()
    if key not in vri:
        die("/VRI has no entry %s for the last signature" % key)
    else:
        ids = {getattr(x, "idnum", None) for k in ("/Certs", "/CRLs")
               for x in (dss[k].get_object() if k in dss else [])}
        for k in ("/Cert", "/CRL"):
            for x in (vri[key].get_object()[k].get_object() if k in vri[key].get_object() else []):
                if getattr(x, "idnum", None) not in ids:
                    die("/VRI %s %s names object %s, which /DSS does not list" % (key, k, x))
PY
fi
# 7. PAdES declared (EN 319 142-1): below PDF 2.0 the catalog has /Extensions /ESIC level >= 1
/usr/bin/python3 - "$SIGNED" <<'PY' || fail "no ESIC extension in the catalog"
import sys
from pypdf import PdfReader
r = PdfReader(sys.argv[1])
root = r.trailer["/Root"]
head = open(sys.argv[1], "rb").read(1100)
i = head.find(b"%PDF-")
try:
    ver = float(head[i + 5:i + 8]) if i >= 0 else 0.0
except ValueError:
    ver = 0.0
try:
    ver = max(ver, float(str(root.get("/Version", "/0.0"))[1:]))
except ValueError:
    pass
if ver >= 2.0:
    sys.exit(0)
ext = root.get("/Extensions")
esic = ext.get_object().get("/ESIC") if ext is not None else None
sys.exit(0 if esic is not None and int(esic.get_object().get("/ExtensionLevel", 0)) >= 1 else 1)
PY
echo "validate_pdf.sh: $SIGNED: OK ($LEVEL, $n signature(s))$CERT_NOTE"
