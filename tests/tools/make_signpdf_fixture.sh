#!/usr/bin/env bash
# Makes the committed fixture tests/tools/fixtures/signpdf-signed.pdf: a small PDF signed once
# by @signpdf/signpdf 3.3 (the versions pinned in tests/bench/signpdf/package-lock.json), a
# popular Node signer whose output other appliances receive, plus the certificate of the
# throwaway self-signed key it used (signpdf-cert.pem; the key is deleted). The PDF is the input
# of the corpus case ok-signpdf.pdf (tests/tools/hostile_pdfs.py): signing over it must work.
#
# Run once, by hand, from the repository root (needs node, npm and the npm registry):
#   bash tests/tools/make_signpdf_fixture.sh
# Made with: node v20.20.2, npm ci of tests/bench/signpdf/, mutool create, openssl req.
set -euo pipefail

SRC=$(cd "$(dirname "$0")/../.." && pwd)
OUT="$SRC/tests/tools/fixtures"
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
mkdir -p "$OUT" "$W/np"

cp "$SRC/tests/bench/signpdf/package.json" "$SRC/tests/bench/signpdf/package-lock.json" "$W/np/"
(cd "$W/np" && npm ci --no-audit --no-fund --loglevel=error >"$W/npm.log" 2>&1) ||
	{ tail -20 "$W/npm.log" >&2; exit 1; }

openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=Click2Sign test: signpdf fixture" \
	-keyout "$W/key.pem" -out "$W/cert.pem" 2>/dev/null
openssl pkcs12 -export -inkey "$W/key.pem" -in "$W/cert.pem" -passout pass: \
	-keypbe PBE-SHA1-3DES -certpbe PBE-SHA1-3DES -macalg sha1 -out "$W/sp.p12"

printf '%%%%MediaBox 0 0 595 842\n%%%%Font F1 Helvetica\nBT /F1 18 Tf 72 760 Td (Signed by @signpdf/signpdf 3.3) Tj ET\n' >"$W/p1.txt"
mutool create -o "$W/in.pdf" "$W/p1.txt"

cat >"$W/np/sign.js" <<'JS'
'use strict';
const fs = require('fs');
const signpdf = require('@signpdf/signpdf').default;
const { P12Signer } = require('@signpdf/signer-p12');
const { plainAddPlaceholder } = require('@signpdf/placeholder-plain');
async function main() {
  const [p12, input, output] = process.argv.slice(2);
  const withPlaceholder = plainAddPlaceholder({
    pdfBuffer: fs.readFileSync(input), reason: 'fixture', contactInfo: 'tests@example.org',
    name: 'signpdf fixture', location: 'Ljubljana',
  });
  const signed = await signpdf.sign(withPlaceholder, new P12Signer(fs.readFileSync(p12)));
  fs.writeFileSync(output, signed);
}
main().catch((e) => { console.error(e); process.exit(1); });
JS
node "$W/np/sign.js" "$W/sp.p12" "$W/in.pdf" "$OUT/signpdf-signed.pdf"
cp "$W/cert.pem" "$OUT/signpdf-cert.pem"
pdfsig "$OUT/signpdf-signed.pdf" || true
ls -l "$OUT"
