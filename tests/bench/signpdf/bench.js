// Peer for docs/BENCHMARKS.md: @signpdf/signpdf 3.3 signing in-process, one thread.
// node bench.js P12 SECONDS PDF...  -> one line per PDF: "<file> <docs/s> <n> ok" or "<file> fail <why>"
'use strict';
const fs = require('fs');
const signpdf = require('@signpdf/signpdf').default;
const { P12Signer } = require('@signpdf/signer-p12');
const { plainAddPlaceholder } = require('@signpdf/placeholder-plain');

// A P12Signer is single-use in 3.3 (sign() consumes its forge buffer; it re-parses and decrypts
// the P12 on every call anyway), so each document gets a new one, as a server would do.
async function bench(file, p12, seconds) {
  const pdf = fs.readFileSync(file);
  const until = process.hrtime.bigint() + BigInt(Math.round(seconds * 1e9));
  const t0 = process.hrtime.bigint();
  let n = 0;
  do {
    const withPlaceholder = plainAddPlaceholder({
      pdfBuffer: pdf, reason: 'benchmark', contactInfo: 'bench@example.org',
      name: 'Click2Sign bench', location: 'Ljubljana',
    });
    const signed = await signpdf.sign(withPlaceholder, new P12Signer(p12));
    if (n === 0) fs.writeFileSync(file + '.signpdf.pdf', signed);
    n++;
  } while (process.hrtime.bigint() < until);
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  return `${file} ${(n / secs).toFixed(1)} ${n} ok`;
}

async function main() {
  const [p12, seconds, ...files] = process.argv.slice(2);
  const p12Der = fs.readFileSync(p12);
  for (const f of files) {
    try {
      console.log(await bench(f, p12Der, Number(seconds)));
    } catch (e) {
      console.log(`${f} fail ${String(e.message || e).split('\n')[0]}`);
    }
  }
}
main();
