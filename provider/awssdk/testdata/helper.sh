#!/bin/sh
# A credential_process helper for the tests.
#
#   helper.sh ok AKID SECRET [EXPIRATION [COUNTFILE]]
#       prints credential JSON (with Expiration if not "-"), appending a line
#       to COUNTFILE on each run
#   helper.sh fail SECRET        prints SECRET on stdout and stderr, exits 1
#   helper.sh garbage SECRET     prints SECRET as non-JSON output, exits 0
#   helper.sh version SECRET     prints JSON with Version 2, exits 0
#   helper.sh sleep [PIDFILE]    writes its pid to PIDFILE, then sleeps past
#                                the timeout the test sets
#
# In every mode it first reads its standard input, which must be at end of
# file at once: a helper that inherits the server's stdin would read the
# JSON-RPC stream. If anything is read it says so on stderr and exits 3.
if IFS= read -r line || [ -n "$line" ]; then
	echo "helper: read from stdin: $line" >&2
	exit 3
fi
echo "helper: diagnostics on stderr STDERR-JUNK-7f3a" >&2
mode=$1
shift
case $mode in
ok)
	if [ -n "$4" ]; then echo run >>"$4"; fi
	if [ -n "$3" ] && [ "$3" != "-" ]; then
		printf '{"Version":1,"AccessKeyId":"%s","SecretAccessKey":"%s","SessionToken":"session-token-from-helper","Expiration":"%s","AccountId":"123456789012"}\n' "$1" "$2" "$3"
	else
		printf '{"Version":1,"AccessKeyId":"%s","SecretAccessKey":"%s"}\n' "$1" "$2"
	fi
	;;
fail)
	echo "error: token $1 was rejected"
	echo "error: token $1 was rejected" >&2
	exit 1
	;;
garbage)
	echo "here is the secret $1 in no JSON at all"
	;;
version)
	printf '{"Version":2,"AccessKeyId":"AKIDVERSION","SecretAccessKey":"%s"}\n' "$1"
	;;
sleep)
	if [ -n "$1" ]; then echo $$ >"$1"; fi
	exec sleep 120
	;;
*)
	echo "unknown mode" >&2
	exit 2
	;;
esac
