'use strict';
// The customer-certificate listener in a real browser: Debian's Chromium and Firefox ESR, driven
// headless by puppeteer-core, present a client certificate on their own (no dialog), register it
// and log in with it.
//   node certlogin.js            (NODE_PATH=<dir>/node_modules, as e2e_test.sh runs flows.js)
// Environment:
//   C2S_CERT_URL    the listener, e.g. https://127.0.0.1:8444
//   C2S_CA          PEM that verifies the listener's server certificate
//   CERT_P12        the customer's certificate: leaf, key and the chain (intermediates), empty password
//   CERT_ISSUER_CN  CN of the leaf's direct issuer (Chromium's auto-selection filter)
//   CERT_ROOT_PEM   optional: root of the client chain (only checked against the p12 beforehand)
//   REGISTER_URL_CHROMIUM, REGISTER_URL_FIREFOX   ${C2S_CERT_URL}/c/register?assertion=..., one per
//                   browser as the assertion is single-use (REGISTER_URL is taken when one browser runs)
//   RETURN_URL      the allow-listed portal return URL
//   ARTIFACTS       directory for the screenshots (certlogin-<browser>-NN-<step>.png)
//   BROWSERS        default chromium,firefox
// Per browser: (1) the register URL asks to confirm (#register-confirm, naming the account in
// #register-account) and, confirmed, shows #registered, over TLS without an error; (2)
// /c/login?return=RETURN_URL ends on RETURN_URL?...assertion=<compact JWS> with a non-empty sub and
// exp - iat <= 300. stdout carries only one JSON line per browser that passed:
//   {"browser":"chromium","sub":"...","assertion":"..."}
// Progress, timings and failures go to stderr ("# ..." and "FAIL certlogin ..." lines). Exit code 0
// when every browser passed, 1 otherwise, 2 on bad usage.
//
// What makes the browsers choose the certificate themselves (tried with Chromium 156 and Firefox ESR
// 153 against openssl s_server and a GnuTLS-like listener that names the client root in its
// CertificateRequest and validates the certificate after the handshake):
// - The p12 must hold the intermediate(s). The server names the root; both browsers offer only a
//   certificate whose chain they can build up to a listed name, from the NSS db. Without the
//   intermediate they send no certificate at all (no dialog, no hang; the page then says so).
//   With it, both send leaf + intermediate. The root itself is not needed in the p12 or the db.
// - Chromium reads client certificates from $HOME/.pki/nssdb only. Auto-selection: the content
//   setting auto_select_certificate in <profile>/Default/Preferences, keyed "<origin>,*", with the
//   filter {"ISSUER":{"CN": <CN of the leaf's DIRECT issuer>}}; the root's CN does not match, and
//   then headless Chromium waits forever for a selection dialog nobody sees: a navigation timeout.
// - Firefox reads cert9.db/key4.db in the profile directory (puppeteer's userDataDir keeps a
//   pre-made db; it only writes user.js). The pref security.default_personal_cert = "Select
//   Automatically" is all it needs; without it, the same invisible-dialog hang.
// - Trust of the server: C2S_CA imported with "C,," into the same db (last: importing the same
//   certificate again with other trust flags would reset them). acceptInsecureCerts also works,
//   but would hide a wrong server certificate.
const fs = require('fs');
const os = require('os');
const path = require('path');
const { execFileSync } = require('child_process');
const { X509Certificate } = require('crypto');
const puppeteer = require('puppeteer-core');

const T0 = Date.now();
const E = process.env;
const log = (m) => process.stderr.write(`# ${m}\n`);
class Fail extends Error {}

function usage(m) {
	process.stderr.write(`certlogin: ${m}\n`);
	process.exit(2);
}
function need(name) {
	if (!E[name]) usage(`${name} is not set`);
	return E[name];
}

// ---- the configuration ----
const CERT_URL = need('C2S_CERT_URL').replace(/\/+$/, '');
const ORIGIN = new URL(CERT_URL).origin;
const SERVER_CA = need('C2S_CA');
const P12 = need('CERT_P12');
const ISSUER_CN = need('CERT_ISSUER_CN');
const ROOT_PEM = E.CERT_ROOT_PEM || '';
const RETURN_URL = need('RETURN_URL');
const ARTIFACTS = need('ARTIFACTS');
const BROWSERS = (E.BROWSERS || 'chromium,firefox').split(',').map((s) => s.trim()).filter(Boolean);
for (const b of BROWSERS) if (b !== 'chromium' && b !== 'firefox') usage(`unknown browser "${b}" in BROWSERS`);
if (!BROWSERS.length) usage('BROWSERS is empty');
for (const f of [SERVER_CA, P12, ROOT_PEM].filter(Boolean)) if (!fs.existsSync(f)) usage(`${f} does not exist`);
const REGISTER = {};
for (const b of BROWSERS) {
	const v = `REGISTER_URL_${b.toUpperCase()}`;
	REGISTER[b] = E[v] || (BROWSERS.length === 1 ? E.REGISTER_URL : '');
	if (!REGISTER[b]) usage(`${v} is not set (each browser needs its own single-use register URL)`);
	if (!REGISTER[b].startsWith(`${CERT_URL}/`)) usage(`${v} is not on C2S_CERT_URL: ${REGISTER[b]}`);
}
fs.mkdirSync(ARTIFACTS, { recursive: true });

// ---- the p12, checked before any browser runs: a mistake here shows up in a browser as a hang or as
// "no certificate presented", far from its cause ----
function cn(dn) {
	const l = dn.split('\n').find((x) => x.startsWith('CN='));
	return l ? l.slice(3) : '';
}
function pemCerts(text) {
	return (text.match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g) || [])
		.map((p) => new X509Certificate(p));
}
function p12Certs(which) { // which: -clcerts (the key's certificate) or -cacerts (the chain)
	const args = ['pkcs12', '-in', P12, '-passin', 'pass:', '-nokeys', which];
	try {
		return pemCerts(execFileSync('openssl', args, { stdio: ['ignore', 'pipe', 'pipe'] }).toString());
	} catch (e) { // a p12 with the old RC2/3DES encryption
		return pemCerts(execFileSync('openssl', [...args, '-legacy'], { stdio: ['ignore', 'pipe', 'pipe'] }).toString());
	}
}
function issuedBy(c, by) { return c.checkIssued(by) && c.verify(by.publicKey); }
function checkP12() {
	let leaf, chain;
	try {
		[leaf] = p12Certs('-clcerts');
		chain = p12Certs('-cacerts');
	} catch (e) {
		throw new Fail(`CERT_P12 ${P12} cannot be read with an empty password: ${String(e.stderr || e.message).trim().split('\n')[0]}`);
	}
	if (!leaf) throw new Fail(`CERT_P12 ${P12} holds no certificate for its key`);
	const eku = leaf.keyUsage; // the extended key usage OIDs, undefined without the extension
	if (eku && !eku.includes('1.3.6.1.5.5.7.3.2') && !eku.includes('2.5.29.37.0')) {
		throw new Fail(`the client certificate ${leaf.subject.replace(/\n/g, ', ')} lacks the clientAuth extended key usage: browsers do not offer it`);
	}
	// keyUsage without digitalSignature (e.g. nonRepudiation only): both browsers silently send nothing
	const ku = execFileSync('openssl', ['x509', '-noout', '-ext', 'keyUsage'], { input: leaf.toString() }).toString();
	if (ku.trim() && !/Digital Signature/.test(ku)) {
		throw new Fail(`the client certificate's keyUsage lacks digitalSignature (${ku.split('\n').slice(1).join(' ').trim()}): browsers do not offer it`);
	}
	if (cn(leaf.issuer) !== ISSUER_CN) {
		throw new Fail(`CERT_ISSUER_CN is "${ISSUER_CN}" but the leaf's issuer CN is "${cn(leaf.issuer)}": ` +
			'Chromium auto-selects by the DIRECT issuer and would otherwise wait for a dialog');
	}
	// the chain the browsers can build from what the p12 brings
	const names = [cn(leaf.subject)];
	let c = leaf;
	for (let i = 0; i < 8; i++) {
		const up = chain.find((x) => x !== c && issuedBy(c, x));
		if (!up) break;
		names.push(cn(up.subject));
		c = up;
	}
	const root = ROOT_PEM ? pemCerts(fs.readFileSync(ROOT_PEM, 'utf8'))[0] : null;
	if (ROOT_PEM && !root) throw new Fail(`CERT_ROOT_PEM ${ROOT_PEM} holds no certificate`);
	if (root && c.fingerprint256 !== root.fingerprint256) {
		if (!issuedBy(c, root)) {
			throw new Fail(`the p12's chain [${names.join(' <- ')}] does not reach CERT_ROOT_PEM (${cn(root.subject)}): ` +
				'add the intermediate(s) to the p12, or the browsers send no certificate');
		}
		names.push(`${cn(root.subject)} (CERT_ROOT_PEM)`);
	}
	if (!root && c === leaf) {
		log(`note: the p12 holds no issuer of the leaf; that works only if "${ISSUER_CN}" is itself the root the server names`);
	}
	log(`client certificate chain: ${names.join(' <- ')}`);
}

// ---- the browser: fresh HOME and profile, the client certificate in its NSS db ----
function nssDb(db) {
	fs.mkdirSync(db, { recursive: true });
	const run = (cmd, args) => {
		try {
			return execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] }).toString();
		} catch (e) {
			throw new Fail(`${cmd} ${args.join(' ')}: ${String(e.stderr || e.stdout || e.message).trim()}`);
		}
	};
	run('certutil', ['-N', '-d', `sql:${db}`, '--empty-password']);
	run('pk12util', ['-d', `sql:${db}`, '-i', P12, '-W', '']);
	// the server's CA last: adding a certificate that is already there sets its trust anew
	run('certutil', ['-A', '-d', `sql:${db}`, '-n', 'c2s-server-ca', '-t', 'C,,', '-i', SERVER_CA]);
	const list = run('certutil', ['-L', '-d', `sql:${db}`]);
	if (!/\bu,u,u\s*$/m.test(list)) throw new Fail(`after importing ${P12} the NSS db has no certificate with its key:\n${list}`);
}

const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
	'--disable-background-networking', '--disable-component-update', '--disable-sync',
	'--disable-dev-shm-usage'];

async function launch(name, home) {
	const profile = path.join(home, 'profile');
	const env = { ...process.env, HOME: home, XDG_CONFIG_HOME: path.join(home, '.config'),
		XDG_CACHE_HOME: path.join(home, '.cache'), LANG: 'C.UTF-8' };
	if (name === 'chromium') {
		nssDb(path.join(home, '.pki', 'nssdb'));
		fs.mkdirSync(path.join(profile, 'Default'), { recursive: true });
		const prefs = { profile: { content_settings: { exceptions: { auto_select_certificate: {
			[`${ORIGIN},*`]: { setting: { filters: [{ ISSUER: { CN: ISSUER_CN } }] } } } } } } };
		fs.writeFileSync(path.join(profile, 'Default', 'Preferences'), JSON.stringify(prefs));
		return puppeteer.launch({
			browser: 'chrome',
			executablePath: '/usr/bin/chromium',
			headless: true,
			userDataDir: profile,
			env,
			args: CHROMIUM_ARGS,
			defaultViewport: { width: 1280, height: 900 },
			protocolTimeout: 30000,
		});
	}
	nssDb(profile); // Firefox: cert9.db and key4.db of its profile
	return puppeteer.launch({
		browser: 'firefox',
		executablePath: '/usr/bin/firefox-esr',
		headless: true,
		userDataDir: profile,
		env,
		extraPrefsFirefox: {
			'security.default_personal_cert': 'Select Automatically',
			'browser.shell.checkDefaultBrowser': false,
			'app.update.enabled': false,
			'datareporting.policy.dataSubmissionEnabled': false,
			'toolkit.telemetry.enabled': false,
			'network.captive-portal-service.enabled': false,
			'network.connectivity-service.enabled': false,
			'browser.safebrowsing.malware.enabled': false,
			'browser.safebrowsing.phishing.enabled': false,
			'extensions.update.enabled': false,
		},
		defaultViewport: { width: 1280, height: 900 },
		protocolTimeout: 30000,
	});
}

// ---- helpers ----
const within = (p, ms, what) => Promise.race([p, new Promise((_, rej) =>
	setTimeout(() => rej(new Error(`${what}: no answer in ${ms} ms`)), ms).unref())]);

async function shot(page, name, n, step) {
	const file = path.join(ARTIFACTS, `certlogin-${name}-${String(n).padStart(2, '0')}-${step}.png`);
	try {
		await within(page.screenshot({ path: file, fullPage: true }), 5000, 'screenshot');
	} catch (e) {
		log(`${name}: no screenshot ${path.basename(file)} (${e.message.split('\n')[0]})`);
	}
}

// (bounded: while a navigation hangs, the page has no document to ask)
async function text(page, sel) {
	return within(page.$eval(sel, (e) => e.textContent.replace(/\s+/g, ' ').trim()), 3000, sel).catch(() => null);
}
async function has(page, sel) {
	return (await within(page.$(sel), 3000, sel).catch(() => null)) !== null;
}

const TLS_ERROR = /ERR_(CERT|SSL|BAD_SSL|CONNECTION|TLS)|SEC_ERROR|SSL_ERROR|MOZILLA_PKIX|NS_ERROR_NET|NS_ERROR_CONNECTION|NS_ERROR_GENERATE_FAILURE/;

// Opens url; what the browser ended on. A navigation error is kept, not thrown: an error status
// makes Firefox throw, and then the page still shows the listener's #error.
async function open(page, url) {
	const failed = [];
	const onFail = (r) => {
		const why = r.failure() && r.failure().errorText;
		if (why && !/ERR_ABORTED|NS_BINDING_ABORTED/.test(why)) failed.push(`${r.url().slice(0, 80)}: ${why}`);
	};
	page.on('requestfailed', onFail);
	const t = Date.now();
	let resp = null, err = null;
	try {
		resp = await page.goto(url, { waitUntil: 'load' });
	} catch (e) {
		err = e.message.split('\n')[0];
	}
	page.off('requestfailed', onFail);
	return { resp, err, failed, ms: Date.now() - t, url: page.url() };
}

// Why a step went wrong, in words that point at the cause.
async function explain(page, r) {
	const bits = [];
	if (r.err) {
		bits.push(r.err);
		if (/timeout/i.test(r.err)) {
			bits.push('a hang here usually means the browser waits for a certificate-selection dialog: ' +
				'auto-selection did not match (Chromium: CERT_ISSUER_CN must be the CN of the leaf\'s direct issuer, ' +
				'the Preferences key the listener\'s origin; Firefox: security.default_personal_cert)');
		}
	}
	if (r.resp) bits.push(`HTTP ${r.resp.status()}`);
	const hung = r.err && /timeout/i.test(r.err);
	const err = hung ? null : await text(page, '#error');
	if (err) bits.push(`#error: ${err}`);
	bits.push(`at ${r.url}`);
	if (!err && !hung) {
		const body = await text(page, 'body');
		if (body) bits.push(`page: ${body.slice(0, 200)}`);
	}
	return bits.join('; ');
}

function b64json(seg, what) {
	try {
		return JSON.parse(Buffer.from(seg, 'base64url').toString('utf8'));
	} catch (e) {
		throw new Fail(`login: the assertion's ${what} is not base64url JSON (${e.message})`);
	}
}

// ---- one browser: register the certificate, then log in with it ----
async function run(name) {
	const t0 = Date.now();
	const home = fs.mkdtempSync(path.join(os.tmpdir(), `c2s-certlogin-${name}.`));
	let browser;
	try {
		browser = await launch(name, home);
		log(`${name}: ${await browser.version()} started in ${Date.now() - t0} ms`);
		const page = await browser.newPage();
		page.setDefaultTimeout(15000);

		// (1) + (3): the register page, over TLS without an error, says the certificate is registered
		let r = await open(page, REGISTER[name]);
		await shot(page, name, 1, 'register');
		const tlsErr = (r.err ? [r.err] : r.failed).filter((x) => TLS_ERROR.test(x));
		if (tlsErr.length) throw new Fail(`register: TLS error: ${tlsErr.join('; ')} (at ${r.url})`);
		if (!r.url.startsWith(`${CERT_URL}/`)) throw new Fail(`register: did not load the listener's page: ${await explain(page, r)}`);
		if (r.failed.length) throw new Fail(`register: request(s) failed: ${r.failed.join('; ')}`);
		// the listener first names the account and asks; the answer is a POST of its form
		if (!(await has(page, '#register-confirm'))) throw new Fail(`register: no #register-confirm: ${await explain(page, r)}`);
		const asked = await text(page, '#register-account');
		if (!asked) throw new Fail('register: the question does not name the account (#register-account)');
		const t1 = Date.now();
		const [nav] = await Promise.all([
			page.waitForNavigation({ waitUntil: 'load' }).catch((e) => ({ err: e.message.split('\n')[0] })),
			page.click('#register-confirm'),
		]);
		r = { resp: nav && !nav.err ? nav : null, err: nav && nav.err ? nav.err : null, failed: [],
			ms: r.ms + (Date.now() - t1), url: page.url() };
		await shot(page, name, 1, 'registered');
		if (!(await has(page, '#registered'))) throw new Fail(`register: no #registered after confirming for ${asked}: ${await explain(page, r)}`);
		let proto = ''; // Chromium only: Firefox's BiDi has no security details
		try { proto = ` over ${r.resp.securityDetails().protocol()}`; } catch (e) { /* none */ }
		log(`${name}: registered${proto} in ${r.ms} ms: ${await text(page, '#registered')}`);

		// (2): the login leads back to the portal with a fresh assertion
		const login = `${CERT_URL}/c/login?return=${encodeURIComponent(RETURN_URL)}`;
		r = await open(page, login);
		await shot(page, name, 2, 'login');
		const back = [RETURN_URL, new URL(RETURN_URL).href];
		if (!back.some((u) => r.url.startsWith(u))) throw new Fail(`login: did not return to RETURN_URL: ${await explain(page, r)}`);
		const assertion = new URL(r.url).searchParams.get('assertion');
		if (!assertion) throw new Fail(`login: returned without an assertion parameter: ${r.url}`);
		const seg = assertion.split('.');
		if (seg.length !== 3 || !seg.every((s) => /^[A-Za-z0-9_-]+$/.test(s))) {
			throw new Fail(`login: the assertion is not a compact JWS (three base64url segments): ${assertion.slice(0, 120)}`);
		}
		const hdr = b64json(seg[0], 'header');
		const pl = b64json(seg[1], 'payload');
		if (typeof pl.sub !== 'string' || !pl.sub) throw new Fail(`login: the assertion has no sub: ${JSON.stringify(pl)}`);
		if (!Number.isFinite(pl.iat) || !Number.isFinite(pl.exp) || pl.exp <= pl.iat || pl.exp - pl.iat > 300) {
			throw new Fail(`login: the assertion's lifetime is not 0 < exp - iat <= 300 s: iat ${pl.iat}, exp ${pl.exp}`);
		}
		log(`${name}: logged in in ${r.ms} ms: alg ${hdr.alg}, sub ${pl.sub}, valid ${pl.exp - pl.iat} s`);
		process.stdout.write(`${JSON.stringify({ browser: name, sub: pl.sub, assertion })}\n`);
		return true;
	} catch (e) {
		const m = e instanceof Fail ? e.message : `stopped: ${(e.stack || String(e)).split('\n').slice(0, 3).join(' | ')}`;
		process.stderr.write(`FAIL certlogin ${name}: ${m}\n`);
		return false;
	} finally {
		if (browser) await within(browser.close(), 15000, 'closing the browser').catch((e) => log(`${name}: ${e.message}`));
		fs.rmSync(home, { recursive: true, force: true });
		log(`${name}: ${Date.now() - t0} ms in all`);
	}
}

(async () => {
	// the last guard against a hang that no timeout caught (puppeteer kills its browsers on exit)
	setTimeout(() => {
		process.stderr.write(`FAIL certlogin: still running after ${Date.now() - T0} ms, giving up\n`);
		process.exit(1);
	}, 75000 * BROWSERS.length).unref();
	let ok = true;
	try {
		checkP12();
	} catch (e) {
		process.stderr.write(`FAIL certlogin: ${e.message}\n`);
		process.exit(1);
	}
	for (const b of BROWSERS) ok = (await run(b)) && ok;
	log(`certlogin: ${ok ? 'all passed' : 'FAILED'} in ${Date.now() - T0} ms`);
	process.exit(ok ? 0 : 1);
})();
