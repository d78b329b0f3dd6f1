#!/usr/bin/env bash
# docs/INSTALL.md followed literally: every ```sh block of the page, in order, in one shell, in a
# scratch directory (ETC, STATE, BIN, BUILD and the ports preset; the page keeps them), from the
# source tree (BUILD: the release build scripts/test.sh made, else a fresh one). It must end with a sealed PDF that pdfsig validates with a time-stamp, and the
# sample configuration it installs must pass click2signd -n.
set -uo pipefail
. "$C2S_SOURCE_DIR/tests/tools/itlib.sh"
. "$C2S_SOURCE_DIR/tests/tools/appliance.sh"
w=$(mktemp -d /tmp/c2s-install-doc.XXXXXX)
chmod 711 "$w" # it stands in for /: the daemon's users pass through it
# what the page started, by PID: its pid files, and (should a step fail before the TSA wrote its
# own) the processes whose command line names this scratch directory
cleanup() {
	[ -f "$w/etc/click2signd.pid" ] && kill "$(cat "$w/etc/click2signd.pid")" 2>/dev/null
	[ -f "$w/etc/tsa.pid" ] && kill "$(cat "$w/etc/tsa.pid")" 2>/dev/null
	for p in $(pgrep -f -- "$w/" 2>/dev/null); do kill "$p" 2>/dev/null; done
	sleep 0.5
	rm -rf "$w"
}
trap cleanup EXIT
# the blocks, extracted from the page as it is
"$C2S_SOURCE_DIR/tests/tools/md_blocks.py" sh "$C2S_SOURCE_DIR/docs/INSTALL.md" >"$w/install.sh"
check "INSTALL.md has runnable blocks" test -s "$w/install.sh"
port=$(c2s_free_port)
cport=$(c2s_free_port)
(
	cd "$C2S_SOURCE_DIR" || exit 1
	export ETC=$w/etc STATE=$w/state BIN=$w/bin BUILD=${C2S_RELEASE_DIR:-$w/build} PORT=$port CERT_PORT=$cport
	bash -euo pipefail "$w/install.sh"
) >"$w/out.log" 2>&1
rc=$?
equals "every block of INSTALL.md ran (exit $rc)" "$rc" 0
[ "$rc" -eq 0 ] || tail -30 "$w/out.log"
contains "-n passed on the installed sample configuration" "$(cat "$w/out.log")" "configuration OK"
contains "health was ok" "$(cat "$w/out.log")" '"status":"ok"'
contains "pdfsig: the seal is valid" "$(cat "$w/out.log")" "Signature Validation: Signature is Valid."
contains "pdfsig: the chain is trusted" "$(cat "$w/out.log")" "Certificate is Trusted."
check "the sealed PDF is a valid B-T (validate_pdf.sh: qpdf, pdfsig, openssl cms and ts)" \
	"$C2S_SOURCE_DIR/tests/tools/validate_pdf.sh" --level B-T "$w/etc/contract-sealed.pdf" \
	"$w/etc/contract.pdf" "$w/etc/trial-pki/root.pem"
it_done
