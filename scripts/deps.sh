#!/usr/bin/env bash
# Installs the Debian 12 packages listed in scripts/deps.txt; does nothing when all are present.
# As non-root it prints the exact apt-get line and stops.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
list=${1:-$here/deps.txt}
mapfile -t want < <(sed -e 's/#.*//' -e 's/[[:space:]]//g' "$list" | grep -v '^$')
# The appliance's system users: as root the daemon runs each child process under its own
# (firmware/base/sandbox.h); the Debian package creates the same ones.
users() {
	[ "$(id -u)" -eq 0 ] || return 0
	getent group click2sign >/dev/null || groupadd --system click2sign
	local u
	for u in c2s-keyholder c2s-web c2s-notify; do
		getent passwd "$u" >/dev/null ||
			useradd --system --no-create-home --home-dir /nonexistent \
				--shell /usr/sbin/nologin --user-group "$u"
	done
}
users
missing=()
for p in "${want[@]}"; do
	st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	[ "$st" = "install ok installed" ] || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
cmd="apt-get install -y --no-install-recommends ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
	echo "deps: missing Debian packages; run as root:" >&2
	echo "  apt-get update && $cmd" >&2
	exit 1
fi
echo "deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

