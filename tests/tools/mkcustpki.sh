#!/bin/bash
# Customer-certificate test PKI for Click2Sign, made with openssl 3 at test time.
# It imitates a Slovenian qualified CA (SI-TRUST root, SIGEN-CA intermediate) so
# that login with a customer certificate over mutual TLS can be tested, good and bad.
#
#   mkcustpki.sh OUTDIR [CRL_BASE_URL]     make everything (a few seconds)
#
# CRL_BASE_URL (default http://127.0.0.1:8080/crl) goes into cRLDistributionPoints:
# BASE/root.crl in the intermediate, BASE/inter.crl in the customer certificates.
# If OUTDIR/done exists nothing is done; otherwise everything is (re)made and
# OUTDIR/done is touched at the end.
#
# Layout of OUTDIR (PEM unless noted):
#   root/{ca.pem,ca.key}        "Test SI-TRUST Root", self-signed, P-384
#   inter/{ca.pem,ca.key}       "Test SIGEN-CA G2", RSA-3072, pathlen:0, issued by the root;
#                               RSA so that it can sign good-pss with RSASSA-PSS
#   other/{ca.pem,ca.key}       "Evil Test CA", unrelated self-signed CA, P-256
#   crl/{root,inter}.crl (DER) + .crl.pem   CRLs, nextUpdate in 7 days; inter lists "revoked"
#   trust.pem                   the root (what an operator adds with "trust add")
#   inter.pem                   the intermediate (what an operator may provision)
#   conf/                       openssl configuration and CA databases (working files)
#   <case>/key.pem              unencrypted PKCS#8 key
#   <case>/cert.pem             the customer certificate alone
#   <case>/chain.pem            what a client sends: leaf + intermediate
#   <case>/client.p12           leaf + key + intermediate + root, empty password (NSS imports it)
#   <case>/subject.txt          the subject CN, UTF-8, one line
#   <case>/serial.txt           the serial number, lowercase hex without leading zeros
# Cases (subject C=SI, O, serialNumber=PNOSI-<13 digits>, GN, SN, CN):
#   good-rsa    RSA-2048, CN "Žiga Čebašek" UTF8String
#   good-ec     P-256, CN "Špela Šušteršič" BMPString
#   good-p384   P-384, CN "Ana Müller" T61String (Latin-1 bytes), O PrintableString
#   good-pss    RSA-3072 key, certificate signed with RSASSA-PSS, CN "Marko Kovac" PrintableString
#   good-sign   P-256, keyUsage nonRepudiation only, no extendedKeyUsage, CN "Jože Zupančič" UTF8String
#   Each of these differs from good-ec (same subject) in one property only:
#   expired     valid from 400 to 30 days ago
#   notyet      valid from 30 days from now
#   revoked     on crl/inter.crl; revoked/revoked_at holds the date (YYYY-MM-DDTHH:MM:SSZ)
#   unknown     issued by "Evil Test CA"; chain.pem and client.p12 carry other/ca.pem
#   nointer     chain.pem is the leaf only; client.p12 has leaf + key + root, no intermediate
#   serveronly  extendedKeyUsage serverAuth only
#   critext     an unknown critical extension (1.3.6.1.4.1.99999.1)
#   rsa1024     RSA-1024 key
#   sha1        signed with sha1WithRSAEncryption
#   caleaf      basicConstraints CA:TRUE
set -euo pipefail

die() { echo "mkcustpki.sh: $*" >&2; exit 1; }
SSL=${OPENSSL:-openssl}

if [ $# -lt 1 ] || [ $# -gt 2 ]; then die "usage: mkcustpki.sh OUTDIR [CRL_BASE_URL]"; fi
[ -e "$1/done" ] && exit 0
mkdir -p "$1"
OUT=$(cd "$1" && pwd)
BASE=${2:-http://127.0.0.1:8080/crl}
CONF=$OUT/conf
LOG=$CONF/last.log

# Run an openssl command quietly; show what it said if it fails.
run() { "$@" 2>"$LOG" || { cat "$LOG" >&2; die "failed: $*"; }; }

# Time stamps for openssl ca -startdate/-enddate, relative to now (in days).
NOW=$(date -u +%s)
when() { date -u -d "@$((NOW + $1 * 86400))" +%Y%m%d%H%M%SZ; }

# QCStatements: QcCompliance, QcSSCD, QcType esign.
QCS=30293008060604008E4601013008060604008E4601043013060604008E4601063009060704008E46010601

conf_files() {
	mkdir -p "$CONF"
	local mask
	for mask in utf8only default; do
		cat >"$CONF/req-$mask.cnf" <<EOT
[req]
distinguished_name = dn
string_mask = $mask
utf8 = yes
[dn]
EOT
	done
	local leaf
	leaf="subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
crlDistributionPoints = URI:$BASE/inter.crl
certificatePolicies = 1.3.6.1.4.1.6105.1.1.1, 0.4.0.194112.1.2
1.3.6.1.5.5.7.1.3 = DER:$QCS"
	cat >"$CONF/ext.cnf" <<EOT
[v3_root]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[v3_inter]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
crlDistributionPoints = URI:$BASE/root.crl
[v3_leaf]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth, emailProtection
$leaf
[v3_sign]
basicConstraints = critical, CA:FALSE
keyUsage = critical, nonRepudiation
$leaf
[v3_serveronly]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
$leaf
[v3_critext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth, emailProtection
1.3.6.1.4.1.99999.1 = critical, DER:0500
$leaf
[v3_caleaf]
basicConstraints = critical, CA:TRUE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth, emailProtection
$leaf
EOT
}

ca_cnf() { # NAME MD: database and configuration for one CA under conf/NAME
	local d=$CONF/$1
	mkdir -p "$d/issued"
	: >"$d/index.txt"
	echo 1000 >"$d/crlnumber"
	echo 01 >"$d/serial" # openssl ca wants one even with -rand_serial
	cat >"$d/ca.cnf" <<EOT
[ca]
default_ca = this_ca
[this_ca]
dir = $d
database = \$dir/index.txt
crlnumber = \$dir/crlnumber
serial = \$dir/serial
new_certs_dir = \$dir/issued
certificate = $OUT/$1/ca.pem
private_key = $OUT/$1/ca.key
default_md = $2
default_crl_days = 7
unique_subject = no
policy = any_policy
crl_extensions = v3_crl
[any_policy]
commonName = supplied
[v3_crl]
authorityKeyIdentifier = keyid
EOT
}

genkey() { # OUT TYPE
	case $2 in
	rsa*) $SSL genpkey -algorithm RSA -pkeyopt "rsa_keygen_bits:${2#rsa}" -out "$1" 2>/dev/null ;;
	p256 | p384) $SSL genpkey -algorithm EC -pkeyopt "ec_paramgen_curve:P-${2#p}" -out "$1" ;;
	*) die "unknown key type $2" ;;
	esac
	chmod 600 "$1"
}

genkeys() { # FILE TYPE ...: in parallel, RSA generation is the slow part
	local pids=() p
	while [ $# -ge 2 ]; do
		mkdir -p "$(dirname "$1")"
		genkey "$1" "$2" &
		pids+=($!)
		shift 2
	done
	for p in "${pids[@]}"; do wait "$p" || die "key generation failed"; done
}

csr() { # KEY MASK SUBJECT OUT
	run $SSL req -new -config "$CONF/req-$2.cnf" -utf8 -key "$1" -subj "$3" -out "$4"
}

sign() { # CA CSR OUT PROFILE FROMDAYS TODAYS [openssl ca options]
	local ca=$1 in=$2 out=$3 prof=$4 from=$5 to=$6
	shift 6
	run $SSL ca -batch -notext -rand_serial -preserveDN -config "$CONF/$ca/ca.cnf" -in "$in" -out "$out" \
		-startdate "$(when "$from")" -enddate "$(when "$to")" \
		-extfile "$CONF/ext.cnf" -extensions "v3_$prof" "$@"
}

selfsigned() { # NAME SUBJECT
	csr "$OUT/$1/ca.key" default "$2" "$CONF/$1.csr"
	sign "$1" "$CONF/$1.csr" "$OUT/$1/ca.pem" root -2 3650 -selfsign -keyfile "$OUT/$1/ca.key"
}

person() { # GN SN PNO: subject of a customer
	echo "/C=SI/O=Test Podjetje d.o.o./serialNumber=PNOSI-$3/GN=$1/SN=$2/CN=$1 $2"
}

# customer CASE MASK SUBJECT PROFILE [FROMDAYS TODAYS [ISSUER [openssl ca options]]]
customer() {
	local d=$OUT/$1 mask=$2 subj=$3 prof=$4 from=${5:--1} to=${6:-365} ca=${7:-inter}
	shift $(($# < 7 ? $# : 7))
	csr "$d/key.pem" "$mask" "$subj" "$d/req.csr"
	sign "$ca" "$d/req.csr" "$d/cert.pem" "$prof" "$from" "$to" "$@"
	rm -f "$d/req.csr"
	cat "$d/cert.pem" "$OUT/$ca/ca.pem" >"$d/chain.pem"
	local cn=${subj##*/CN=} serial
	printf '%s\n' "$cn" >"$d/subject.txt"
	serial=$($SSL x509 -in "$d/cert.pem" -noout -serial)
	serial=$(echo "${serial#serial=}" | tr 'A-F' 'a-f' | sed 's/^0*//')
	echo "${serial:-0}" >"$d/serial.txt"
	local extra=$CONF/p12extra.pem
	case $ca in
	inter) cat "$OUT/inter/ca.pem" "$OUT/root/ca.pem" >"$extra" ;;
	*) cat "$OUT/$ca/ca.pem" >"$extra" ;;
	esac
	p12 "$d" "$extra"
}

p12() { # DIR EXTRACERTS
	run $SSL pkcs12 -export -inkey "$1/key.pem" -in "$1/cert.pem" -certfile "$2" \
		-name "c2s-test-$(basename "$1")" -passout pass: -out "$1/client.p12"
}

gencrl() { # NAME
	run $SSL ca -batch -config "$CONF/$1/ca.cnf" -gencrl -crldays 7 -out "$OUT/crl/$1.crl.pem"
	run $SSL crl -in "$OUT/crl/$1.crl.pem" -outform DER -out "$OUT/crl/$1.crl"
}

revoke() { # CASE: revoke, and record the revocation date as the CRL will carry it
	run $SSL ca -batch -config "$CONF/inter/ca.cnf" -revoke "$OUT/$1/cert.pem"
	gencrl inter
	local serial t
	serial=$($SSL x509 -in "$OUT/$1/cert.pem" -noout -serial)
	serial=${serial#serial=}
	t=$($SSL crl -in "$OUT/crl/inter.crl.pem" -noout -text |
		awk -v s="$serial" '$1 == "Serial" && $3 == s { f = 1; next } f && /Revocation Date:/ { sub(/.*Date: */, ""); print; exit }')
	[ -n "$t" ] || die "serial $serial not found on inter.crl"
	date -u -d "$t" +%Y-%m-%dT%H:%M:%SZ >"$OUT/$1/revoked_at"
}

make_all() {
	rm -f "$OUT/done"
	conf_files
	mkdir -p "$OUT"/{root,inter,other,crl}
	genkeys "$OUT/root/ca.key" p384 "$OUT/inter/ca.key" rsa3072 "$OUT/other/ca.key" p256 \
		"$OUT/good-rsa/key.pem" rsa2048 "$OUT/good-ec/key.pem" p256 "$OUT/good-p384/key.pem" p384 \
		"$OUT/good-pss/key.pem" rsa3072 "$OUT/good-sign/key.pem" p256 \
		"$OUT/expired/key.pem" p256 "$OUT/notyet/key.pem" p256 "$OUT/revoked/key.pem" p256 \
		"$OUT/unknown/key.pem" p256 "$OUT/nointer/key.pem" p256 "$OUT/serveronly/key.pem" p256 \
		"$OUT/critext/key.pem" p256 "$OUT/rsa1024/key.pem" rsa1024 "$OUT/sha1/key.pem" p256 \
		"$OUT/caleaf/key.pem" p256

	ca_cnf root sha384
	ca_cnf inter sha256
	ca_cnf other sha256
	selfsigned root "/C=SI/O=Republika Slovenija/organizationIdentifier=VATSI-17659957/CN=Test SI-TRUST Root"
	csr "$OUT/inter/ca.key" default "/C=SI/O=Republika Slovenija/CN=Test SIGEN-CA G2" "$CONF/inter.csr"
	sign root "$CONF/inter.csr" "$OUT/inter/ca.pem" inter -2 3650
	selfsigned other "/C=XX/O=Evil Corp/CN=Evil Test CA"
	cp "$OUT/root/ca.pem" "$OUT/trust.pem"
	cp "$OUT/inter/ca.pem" "$OUT/inter.pem"

	local spela
	spela=$(person Špela Šušteršič 2904985505123)
	customer good-rsa utf8only "$(person Žiga Čebašek 1503990500234)" leaf
	customer good-ec default "$spela" leaf
	customer good-p384 default "$(person Ana Müller 0707977505345)" leaf
	customer good-pss default "$(person Marko Kovac 1111968500456)" leaf -1 365 inter \
		-sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:digest -sigopt rsa_mgf1_md:sha256
	customer good-sign utf8only "$(person Jože Zupančič 2212955500567)" sign

	customer expired default "$spela" leaf -400 -30
	customer notyet default "$spela" leaf 30 365
	customer revoked default "$spela" leaf
	customer unknown default "$spela" leaf -1 365 other
	customer nointer default "$spela" leaf
	cp "$OUT/nointer/cert.pem" "$OUT/nointer/chain.pem"
	p12 "$OUT/nointer" "$OUT/root/ca.pem"
	customer serveronly default "$spela" serveronly
	customer critext default "$spela" critext
	customer rsa1024 default "$spela" leaf
	customer sha1 default "$spela" leaf -1 365 inter -md sha1
	customer caleaf default "$spela" caleaf

	gencrl root
	revoke revoked
	rm -f "$CONF"/*.csr "$CONF/p12extra.pem" "$LOG"
	touch "$OUT/done"
}

make_all
