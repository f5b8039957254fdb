#!/usr/bin/env bash
# Installs what Segl needs to build and test, with apt-get, and only what is
# missing: a machine that has everything is left alone. Debian 12 and its
# derivatives; elsewhere it says what to install.
set -euo pipefail

packages=(
	gcc libc6-dev pkg-config # cgo, for PKCS#11
	softhsm2                 # the HSM for tests and the dev server
	opensc                   # pkcs11-tool, an independent PKCS#11 client in tests
	openssl ca-certificates  # verifying signatures in tests
	oathtool                 # an independent HOTP/TOTP implementation in tests
	poppler-utils            # pdftotext, to read printed code cards back in tests
	pskc-utils               # pskc2pskc, an independent maker of protected PSKC files
	python3-yubiotp          # an independent Yubico OTP implementation for the vectors
	protobuf-compiler        # protoc, for the plugins' gRPC contracts (make generate, and the test that they are current)
	kannel kannel-extras     # a real SMS gateway (bearerbox, smsbox) and its fake SMSC, for the Kannel adapter's tests
	pcscd vsmartcard-vpcd    # PC/SC and its virtual reader driver, through which the tests' virtual YubiKey is a card to piv-go
	libpcsclite-dev          # the PC/SC library piv-go (YubiKey PIV) links with cgo
	yubico-piv-tool          # an independent PIV client, reading the virtual YubiKey in tests
	postgresql               # initdb, pg_ctl, postgres and psql (through postgresql-NN and postgresql-client-NN), for the throwaway clusters of scripts/postgres.sh
)

missing=()
if command -v dpkg-query >/dev/null; then
	for p in "${packages[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$' || missing+=("$p")
	done
else
	echo "deps: no dpkg here; install these yourself: ${packages[*]}" >&2
	exit 1
fi

if ((${#missing[@]})); then
	echo "deps: installing ${missing[*]}"
	sudo=()
	if [ "$(id -u)" != 0 ]; then
		command -v sudo >/dev/null || { echo "deps: need root (or sudo) to install ${missing[*]}" >&2; exit 1; }
		sudo=(sudo)
	fi
	"${sudo[@]}" apt-get update -qq
	DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
	# Installing kannel starts the package's own bearerbox on ports 13000
	# and up; the tests start their own, so the package's is stopped.
	if [[ " ${missing[*]} " == *" kannel "* ]]; then
		"${sudo[@]}" service kannel stop >/dev/null 2>&1 || true
	fi
	# Installing postgresql starts the package's own cluster on port 5432 and
	# /var/run/postgresql. It is left running: the tests never reach it (each
	# starts its own, on a socket in a directory of its own or on a free port
	# it names), so it is in no one's way, and on a developer's machine it may
	# be wanted.
fi

if ! command -v go >/dev/null; then
	echo "deps: Go is not installed; Segl needs Go 1.26 or later (https://go.dev/dl/)" >&2
	exit 1
fi
