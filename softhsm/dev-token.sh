#!/usr/bin/env bash
# Makes, or finds again, the development SoftHSM token under DIR (default
# ./.segl), the way package softhsm does for tests:
#
#   DIR/softhsm2.conf      SoftHSM's configuration, pointing at DIR/tokens
#   DIR/user.pin, so.pin   random PINs, readable by you only
#   DIR/env                export lines for segl and segld: `. DIR/env`
#
# The token is initialised with `segl hsm init-token`, through PKCS#11, so
# that no PIN ever stands on a command line. Run it again and it reuses
# what is there.
set -euo pipefail

dir=${1:-.segl}
segl=${SEGL:-bin/segl}
label=${SEGL_DEV_TOKEN:-segl-dev}

module=${SEGL_HSM_MODULE:-}
if [ -z "$module" ]; then
	for m in /usr/lib/softhsm/libsofthsm2.so /usr/lib/*/softhsm/libsofthsm2.so /usr/local/lib/softhsm/libsofthsm2.so; do
		if [ -e "$m" ]; then module=$m; break; fi
	done
fi
[ -n "$module" ] || { echo "dev-token: SoftHSM is not installed: run make deps" >&2; exit 1; }
[ -x "$segl" ] || { echo "dev-token: $segl is missing: run make build" >&2; exit 1; }

umask 077
mkdir -p "$dir/tokens"
dir=$(cd "$dir" && pwd)
case $dir in
*'#'*) echo "dev-token: $dir holds a '#', which starts a comment in softhsm2.conf: use another directory" >&2; exit 1 ;;
esac

[ -f "$dir/softhsm2.conf" ] || cat >"$dir/softhsm2.conf" <<CONF
# SoftHSM for the Segl development server; made by softhsm/dev-token.sh.
directories.tokendir = $dir/tokens
objectstore.backend = file
log.level = ERROR
slots.removable = false
slots.mechanisms = ALL
library.reset_on_fork = false
CONF
for pin in user.pin so.pin; do
	[ -s "$dir/$pin" ] || head -c 18 /dev/urandom | base64 | tr -d '/+=\n' >"$dir/$pin"
done
{
	printf 'export SOFTHSM2_CONF=%q\n' "$dir/softhsm2.conf"
	printf 'export SEGL_HSM_MODULE=%q\n' "$module"
	printf 'export SEGL_HSM_TOKEN=%q\n' "$label"
	printf 'export SEGL_HSM_PIN_FILE=%q\n' "$dir/user.pin"
	printf 'export SEGL_HSM_SO_PIN_FILE=%q\n' "$dir/so.pin"
} >"$dir/env"

# shellcheck source=/dev/null
. "$dir/env"
if out=$("$segl" hsm info 2>&1); then
	echo "dev-token: token \"$label\" in $dir is ready"
elif grep -q 'no initialized token is labelled' <<<"$out"; then
	"$segl" hsm init-token --label "$label"
	echo "dev-token: token \"$label\" made in $dir"
else
	echo "$out" >&2
	echo "dev-token: the token in $dir does not answer as expected; remove $dir to start afresh" >&2
	exit 1
fi
echo "dev-token: for segl and segld in your shell: . $dir/env"
