#!/bin/bash
# Test PKI for Click2Sign, made with openssl. Idempotent: what exists is kept.
#
#   mkpki.sh OUTDIR                         make everything (about 2 s)
#   mkpki.sh sign-csr OUTDIR CSR OUTCERT [seal|tsa|server|issuing|signerca]
#                                           certificate for a key that lives elsewhere (token)
#   mkpki.sh revoke OUTDIR CERT             revoke a certificate issued by the issuing CA
#   mkpki.sh crl OUTDIR                     regenerate both CRLs
#
# Env: C2S_CRL_BASE_URL (default http://127.0.0.1:8080/crl) goes into crlDistributionPoints
#      as BASE/root.crl (issuing CA, TSA, server) and BASE/issuing.crl (seal certificates);
#      tsa_server.py serves OUTDIR/crl/ over GET so the demo can use it as that base.
#      It is only read when OUTDIR/ext.cnf is first written.
#
# Layout of OUTDIR:
#   root/{ca.pem,ca.key,ca.cnf,index.txt,crlnumber}      "Click2Sign Test Root" (P-384)
#   issuing/{ca.pem,ca.key,ca.cnf,...}                    "Click2Sign Test Issuing CA" (P-384)
#   seal-rsa/{key.pem,cert.pem,cert.der,chain.pem}        RSA-3072 seal (issued by issuing CA)
#   seal-p256/…, seal-p384/…                              ECDSA seals
#   tsa/{key.pem,cert.pem,chain.pem,ts.cnf,serial}        RSA-2048, EKU critical timeStamping
#   server/{key.pem,cert.pem,chain.pem}                   TLS, SAN IP:127.0.0.1, DNS:localhost
#   customer/{ca.pem,ca.key}                              customer-certificate test CA (P-256);
#                                                         its CRL is crl/customer.crl (30 days)
#   crl/{root.crl,issuing.crl} (DER) + *.crl.pem          CRLs
#   root.pem                                              copy of root/ca.pem
set -euo pipefail

die() { echo "mkpki.sh: $*" >&2; exit 1; }
SSL=${OPENSSL:-openssl}

ext_cnf() { # OUT BASEURL
	cat >"$1" <<EOT
[v3_root]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[v3_issuing]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
crlDistributionPoints = URI:$2/root.crl
[v3_signerca]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
crlDistributionPoints = URI:$2/root.crl
[v3_seal]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, nonRepudiation
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
crlDistributionPoints = URI:$2/issuing.crl
[v3_tsa]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = critical, timeStamping
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
crlDistributionPoints = URI:$2/root.crl
[v3_server]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1, DNS:localhost
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
crlDistributionPoints = URI:$2/root.crl
[v3_crl]
authorityKeyIdentifier = keyid
EOT
}

ca_cnf() { # CADIR MD
	local d; d=$(cd "$1" && pwd)
	[ -e "$d/index.txt" ] || : >"$d/index.txt"
	[ -e "$d/crlnumber" ] || echo 1000 >"$d/crlnumber"
	[ -e "$d/ca.cnf" ] || cat >"$d/ca.cnf" <<EOT
[ca]
default_ca = this_ca
[this_ca]
dir = $d
database = \$dir/index.txt
crlnumber = \$dir/crlnumber
certificate = \$dir/ca.pem
private_key = \$dir/ca.key
new_certs_dir = \$dir
default_md = $2
default_crl_days = 30
default_days = 825
policy = any_policy
crl_extensions = v3_crl
[any_policy]
commonName = supplied
[v3_crl]
authorityKeyIdentifier = keyid
EOT
}

genkey() { # OUT TYPE
	[ -e "$1" ] && return 0
	case $2 in
	rsa2048) $SSL genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$1" 2>/dev/null ;;
	rsa3072) $SSL genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:3072 -out "$1" 2>/dev/null ;;
	p256) $SSL genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" ;;
	p384) $SSL genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out "$1" ;;
	*) die "unknown key type $2" ;;
	esac
	chmod 600 "$1"
}

selfsigned() { # DIR CN KEYTYPE MD
	genkey "$1/ca.key" "$3"
	[ -e "$1/ca.pem" ] || $SSL req -new -x509 -key "$1/ca.key" -subj "/O=Click2Sign Test/CN=$2" \
		-days 3650 -"$4" -config "$OUT/ext.cnf" -extensions v3_root -out "$1/ca.pem"
}

issue() { # CSR CADIR PROFILE OUTCERT
	local md=sha256
	[ "$3" = issuing ] && md=sha384
	$SSL x509 -req -in "$1" -CA "$2/ca.pem" -CAkey "$2/ca.key" -set_serial "0x$($SSL rand -hex 16)" \
		-days 825 -"$md" -extfile "$OUT/ext.cnf" -extensions "v3_$3" -out "$4" 2>/dev/null
}

ca_for() { case $1 in seal) echo "$OUT/issuing" ;; tsa | server | issuing | signerca) echo "$OUT/root" ;; *) die "profile $1?" ;; esac; }

leaf() { # DIR CN KEYTYPE PROFILE
	mkdir -p "$1"
	genkey "$1/key.pem" "$3"
	if [ ! -e "$1/cert.pem" ]; then
		$SSL req -new -key "$1/key.pem" -subj "/O=Click2Sign Test/CN=$2" -out "$1/req.csr"
		issue "$1/req.csr" "$(ca_for "$4")" "$4" "$1/cert.pem"
		rm -f "$1/req.csr"
	fi
	$SSL x509 -in "$1/cert.pem" -outform DER -out "$1/cert.der"
	if [ "$4" = seal ]; then cat "$OUT/issuing/ca.pem" "$OUT/root/ca.pem" >"$1/chain.pem"
	else cat "$OUT/root/ca.pem" >"$1/chain.pem"; fi
}

gencrl() { # CADIR NAME
	$SSL ca -batch -config "$1/ca.cnf" -gencrl -out "$OUT/crl/$2.crl.pem" 2>/dev/null
	$SSL crl -in "$OUT/crl/$2.crl.pem" -outform DER -out "$OUT/crl/$2.crl"
}

ts_cnf() {
	local d="$OUT/tsa"
	[ -e "$d/serial" ] || echo 01 >"$d/serial"
	[ -e "$d/ts.cnf" ] || cat >"$d/ts.cnf" <<EOT
[tsa]
default_tsa = tsa_config
[tsa_config]
dir = $d
serial = \$dir/serial
crypto_device = builtin
signer_cert = \$dir/cert.pem
certs = \$dir/chain.pem
signer_key = \$dir/key.pem
signer_digest = sha256
default_policy = 1.3.6.1.4.1.99999.3161.1
digests = sha256, sha384, sha512
accuracy = secs:1
ordering = no
tsa_name = yes
ess_cert_id_chain = no
ess_cert_id_alg = sha256
EOT
}

make_all() {
	mkdir -p "$OUT"/{root,issuing,customer,tsa,server,crl}
	OUT=$(cd "$OUT" && pwd)
	[ -e "$OUT/ext.cnf" ] || ext_cnf "$OUT/ext.cnf" "${C2S_CRL_BASE_URL:-http://127.0.0.1:8080/crl}"
	selfsigned "$OUT/root" "Click2Sign Test Root" p384 sha384
	ca_cnf "$OUT/root" sha384
	cp "$OUT/root/ca.pem" "$OUT/root.pem"
	genkey "$OUT/issuing/ca.key" p384
	if [ ! -e "$OUT/issuing/ca.pem" ]; then
		$SSL req -new -key "$OUT/issuing/ca.key" -subj "/O=Click2Sign Test/CN=Click2Sign Test Issuing CA" \
			-out "$OUT/issuing/ca.csr"
		issue "$OUT/issuing/ca.csr" "$OUT/root" issuing "$OUT/issuing/ca.pem"
		rm -f "$OUT/issuing/ca.csr"
	fi
	ca_cnf "$OUT/issuing" sha256
	leaf "$OUT/seal-rsa" "Click2Sign Test Seal RSA" rsa3072 seal
	leaf "$OUT/seal-p256" "Click2Sign Test Seal P-256" p256 seal
	leaf "$OUT/seal-p384" "Click2Sign Test Seal P-384" p384 seal
	leaf "$OUT/tsa" "Click2Sign Test TSA" rsa2048 tsa
	leaf "$OUT/server" "localhost" p256 server
	ts_cnf
	selfsigned "$OUT/customer" "Click2Sign Test Customer CA" p256 sha256
	ca_cnf "$OUT/customer" sha256
	[ -e "$OUT/crl/customer.crl" ] || gencrl "$OUT/customer" customer
	[ -e "$OUT/crl/root.crl" ] || gencrl "$OUT/root" root
	[ -e "$OUT/crl/issuing.crl" ] || gencrl "$OUT/issuing" issuing
}

case ${1:-} in
sign-csr)
	[ $# -ge 4 ] || die "usage: mkpki.sh sign-csr OUTDIR CSR OUTCERT [seal|tsa|server|issuing|signerca]"
	OUT=$(cd "$2" && pwd)
	[ -e "$OUT/ext.cnf" ] || die "$OUT is not a PKI made by mkpki.sh"
	prof=${5:-seal}
	issue "$3" "$(ca_for "$prof")" "$prof" "$4"
	;;
revoke)
	[ $# -eq 3 ] || die "usage: mkpki.sh revoke OUTDIR CERT"
	OUT=$(cd "$2" && pwd)
	$SSL ca -batch -config "$OUT/issuing/ca.cnf" -revoke "$3" 2>/dev/null
	gencrl "$OUT/issuing" issuing
	;;
crl)
	[ $# -eq 2 ] || die "usage: mkpki.sh crl OUTDIR"
	OUT=$(cd "$2" && pwd)
	gencrl "$OUT/root" root
	gencrl "$OUT/issuing" issuing
	;;
"" | -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 2 ;;
*)
	OUT=$1
	make_all
	;;
esac
