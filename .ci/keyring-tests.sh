#!/usr/bin/env bash
# Runs the provider/keychain and examples/credctl tests against a real Secret
# Service: a private D-Bus session bus (dbus-run-session) and a throwaway
# gnome-keyring-daemon unlocked with a random password, with HOME and the XDG
# directories pointing at a temporary directory, so no real keyring is
# touched. Extra arguments go to `go test` (for example -race -count=1 -v).
#
#   .ci/keyring-tests.sh -race -count=1
#
# Exits with go test's status. Do not install dbus-x11: with it, go-keyring
# autolaunches its own bus when DBUS_SESSION_BUS_ADDRESS is unset and leaves a
# locked keyring daemon behind.
set -uo pipefail
cd "$(dirname "$0")/.."

PKGS=(./provider/keychain/... ./examples/credctl/...)

if [ "${MCPCRED_KEYRING_INNER:-}" != 1 ]; then
	need=()
	command -v gnome-keyring-daemon >/dev/null || need+=(gnome-keyring)
	command -v dbus-run-session >/dev/null || need+=(dbus)
	command -v dbus-send >/dev/null || need+=(dbus)
	dpkg-query -W -f='${Status}' dbus-user-session 2>/dev/null | grep -q 'ok installed' || need+=(dbus-user-session)
	command -v secret-tool >/dev/null || need+=(libsecret-tools)
	if [ ${#need[@]} -gt 0 ]; then
		SUDO=
		[ "$(id -u)" = 0 ] || SUDO=sudo
		echo "keyring-tests: installing ${need[*]}" >&2
		$SUDO apt-get update -qq &&
			DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >&2 ||
			{ echo "keyring-tests: apt-get install failed" >&2; exit 1; }
	fi
	if dpkg-query -W -f='${Status}' dbus-x11 2>/dev/null | grep -q 'ok installed'; then
		echo "keyring-tests: warning: dbus-x11 is installed; go-keyring may autolaunch stray buses outside this script" >&2
	fi

	# Keep Go's caches where they are before HOME moves.
	export GOMODCACHE="$(go env GOMODCACHE)" GOCACHE="$(go env GOCACHE)" GOPATH="$(go env GOPATH)"
	export GOTOOLCHAIN="${GOTOOLCHAIN:-local}" GOFLAGS="${GOFLAGS:-}"
	T="$(mktemp -d "${TMPDIR:-/tmp}/mcpcred-keyring.XXXXXX")"
	trap 'rm -rf "$T"' EXIT
	export HOME="$T/home" XDG_DATA_HOME="$T/data" XDG_RUNTIME_DIR="$T/run" \
		XDG_CONFIG_HOME="$T/config" XDG_CACHE_HOME="$T/cache"
	mkdir -p "$HOME" "$XDG_DATA_HOME" "$XDG_RUNTIME_DIR" "$XDG_CONFIG_HOME" "$XDG_CACHE_HOME" "$T/services"
	chmod 700 "$XDG_RUNTIME_DIR"
	# A session bus without service activation: a stopped keyring daemon
	# stays stopped (no locked replacement is started behind the tests' back),
	# and no prompter can be launched.
	cat >"$T/session.conf" <<CONF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <keep_umask/>
  <listen>unix:dir=$T/run</listen>
  <auth>EXTERNAL</auth>
  <servicedir>$T/services</servicedir>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
CONF
	MCPCRED_KEYRING_TEST_PASSWORD="throwaway-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
	export MCPCRED_KEYRING_TEST_PASSWORD MCPCRED_KEYRING_INNER=1
	unset DBUS_SESSION_BUS_ADDRESS
	dbus-run-session --config-file="$T/session.conf" -- "$0" "$@"
	exit $?
fi

# Inside the private session bus.
owner_pid() {
	dbus-send --session --print-reply=literal --dest=org.freedesktop.DBus /org/freedesktop/DBus \
		org.freedesktop.DBus.GetConnectionUnixProcessID string:org.freedesktop.secrets 2>/dev/null |
		awk '{print $2}'
}

printf '%s' "$MCPCRED_KEYRING_TEST_PASSWORD" |
	gnome-keyring-daemon --foreground --unlock --components=secrets >/dev/null 2>"$XDG_RUNTIME_DIR/daemon.log" &
for _ in $(seq 100); do
	[ -n "$(owner_pid)" ] && break
	sleep 0.1
done
if [ -z "$(owner_pid)" ]; then
	echo "keyring-tests: gnome-keyring-daemon did not start:" >&2
	cat "$XDG_RUNTIME_DIR/daemon.log" >&2
	exit 1
fi
echo "keyring-tests: Secret Service up (pid $(owner_pid)), bus $DBUS_SESSION_BUS_ADDRESS" >&2

export MCPCRED_KEYRING_SANDBOX=1
# -p 1: the packages share one daemon, and some tests stop and restart it.
go test -p 1 "$@" "${PKGS[@]}"
rc=$?

# Stop the daemon now serving the bus (the tests may have restarted it).
pid="$(owner_pid)"
[ -n "$pid" ] && kill "$pid" 2>/dev/null
wait 2>/dev/null
exit $rc
