#!/bin/bash
# PKI for the PAdES B-LT tests (tests/unit/pades_blt_test.c): mkpki.sh's, with its CRL
# distribution points under BASEURL, plus
#   tsa-ca/{ca.pem,ca.key,ca.cnf}       "Click2Sign Test TSA CA" (P-256) under the test root;
#                                        its CRL is BASEURL/tsa-ca.crl
#   tsa-other/tsa/{key.pem,cert.pem,chain.pem,ts.cnf,serial}
#                                        a TSA issued by that CA (CDP BASEURL/tsa-ca.crl), laid
#                                        out for `tsa_server.py --pki OUTDIR/tsa-other`
#   crl/tsa-ca.crl                       the TSA CA's CRL (DER)
#   crl/issuing-wrongkey.crl             a CRL named for the issuing CA, signed by another key
#   crl/issuing-revoked.crl              the issuing CA's CRL listing seal-p256's certificate
#   crl/issuing-good.crl                 a copy of the issuing CA's CRL as mkpki.sh made it
#
#   blt_pki.sh OUTDIR BASEURL
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: blt_pki.sh OUTDIR BASEURL" >&2; exit 2; }
SRC=$(cd "$(dirname "$0")" && pwd)
BASE=$2
C2S_CRL_BASE_URL=$BASE bash "$SRC/mkpki.sh" "$1" >/dev/null
OUT=$(cd "$1" && pwd)
SSL=${OPENSSL:-openssl}

cat >"$OUT/blt-ext.cnf" <<EOT
[v3_tsaca]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
crlDistributionPoints = URI:$BASE/root.crl
[v3_tsa]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = critical, timeStamping
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
crlDistributionPoints = URI:$BASE/tsa-ca.crl
[v3_fake]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
EOT

ca_cnf() { # DIR
	: >"$1/index.txt"
	echo 1000 >"$1/crlnumber"
	cat >"$1/ca.cnf" <<EOT
[ca]
default_ca = this_ca
[this_ca]
dir = $1
database = \$dir/index.txt
crlnumber = \$dir/crlnumber
certificate = \$dir/ca.pem
private_key = \$dir/ca.key
new_certs_dir = \$dir
default_md = sha256
default_crl_days = 30
default_days = 825
policy = any_policy
[any_policy]
commonName = supplied
EOT
}

gencrl() { # CADIR OUTNAME
	$SSL ca -batch -config "$1/ca.cnf" -gencrl -out "$OUT/crl/$2.crl.pem" 2>/dev/null
	$SSL crl -in "$OUT/crl/$2.crl.pem" -outform DER -out "$OUT/crl/$2.crl"
}

serial() { echo "0x$($SSL rand -hex 16)"; }

# the TSA CA, under the test root
d=$OUT/tsa-ca
mkdir -p "$d"
$SSL genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$d/ca.key"
$SSL req -new -key "$d/ca.key" -subj "/O=Click2Sign Test/CN=Click2Sign Test TSA CA" -out "$d/ca.csr"
$SSL x509 -req -in "$d/ca.csr" -CA "$OUT/root/ca.pem" -CAkey "$OUT/root/ca.key" -set_serial "$(serial)" \
	-days 825 -sha384 -extfile "$OUT/blt-ext.cnf" -extensions v3_tsaca -out "$d/ca.pem" 2>/dev/null
ca_cnf "$d"
gencrl "$d" tsa-ca

# a TSA it issued, for tsa_server.py --pki OUTDIR/tsa-other
t=$OUT/tsa-other/tsa
mkdir -p "$t"
$SSL genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$t/key.pem" 2>/dev/null
$SSL req -new -key "$t/key.pem" -subj "/O=Click2Sign Test/CN=Click2Sign Test Other TSA" -out "$t/req.csr"
$SSL x509 -req -in "$t/req.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -set_serial "$(serial)" \
	-days 825 -sha256 -extfile "$OUT/blt-ext.cnf" -extensions v3_tsa -out "$t/cert.pem" 2>/dev/null
cat "$d/ca.pem" "$OUT/root/ca.pem" >"$t/chain.pem"
echo 01 >"$t/serial"
sed -e "s|^dir = .*|dir = $t|" "$OUT/tsa/ts.cnf" >"$t/ts.cnf"

# a CRL with the issuing CA's name, signed by a key that is not the issuing CA's
f=$OUT/fake-issuing
mkdir -p "$f"
$SSL genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out "$f/ca.key"
$SSL req -new -x509 -key "$f/ca.key" -subj "/O=Click2Sign Test/CN=Click2Sign Test Issuing CA" -days 825 \
	-config "$OUT/blt-ext.cnf" -extensions v3_fake -out "$f/ca.pem"
ca_cnf "$f"
gencrl "$f" issuing-wrongkey

# the issuing CA's CRL with seal-p256 revoked; the published one stays as it was
cp "$OUT/crl/issuing.crl" "$OUT/crl/issuing-good.crl"
$SSL ca -batch -config "$OUT/issuing/ca.cnf" -revoke "$OUT/seal-p256/cert.pem" 2>/dev/null
gencrl "$OUT/issuing" issuing-revoked
cp "$OUT/crl/issuing-good.crl" "$OUT/crl/issuing.crl"
