#!/bin/sh
# pmsslreseller deploy hook: install the new certificate into ispmanager 6 and
# switch the site to it.
#
# UNCONFIRMED: ispmanager does not publish the parameters of `sslcert.setcrt`
# and `site.edit`; the names below (sslcert.setcrt: elid, crt, key, caroot;
# site.edit: elid, site_ssl_cert) are our reading and must be checked on a real
# panel before use. The one command to check them, on the ispmanager server
# (mgrctl -i lists a function's parameters):
#   for f in sslcert.setcrt site.edit; do /usr/local/mgr5/sbin/mgrctl -m ispmgr -i "$f"; done
#
# Needs the private key: set [deploy] include_key = true (BILLmanager must hold
# the key, i.e. it made the CSR). Runs on the BILLmanager server and calls the
# ispmanager server's API over HTTPS with an admin account:
#   command = "ISP_URL=https://isp.example.com:1500/ispmgr ISP_USER=root ISP_PASS_FILE=/root/.isp-pass /usr/share/doc/pmsslreseller/examples/deploy-ispmanager.sh"
# ISP_PASS_FILE holds the password (mode 0600); it is never put on a command line.
# The site is PMSS_CN unless ISP_SITE is set; the certificate is named
# pmss-<item>-<serial> in ispmanager.
set -eu

: "${ISP_URL:?set ISP_URL, e.g. https://isp.example.com:1500/ispmgr}"
: "${ISP_USER:?set ISP_USER}"
: "${ISP_PASS_FILE:?set ISP_PASS_FILE (a file holding the password)}"
if [ -z "${PMSS_KEY:-}" ]; then
    echo "no private key: ${PMSS_KEY_MISSING:-set [deploy] include_key = true}" >&2
    exit 2
fi
command -v curl >/dev/null 2>&1 || { echo "curl is needed" >&2; exit 3; }
site=${ISP_SITE:-$PMSS_CN}
name="pmss-$PMSS_ITEM-${PMSS_SERIAL:-new}"
chain=${PMSS_CHAIN:-}

# One API call: form fields from files (curl --data-urlencode name@file), the
# credentials (authinfo=user:password, ISPsystem's API login) from a curl config
# on stdin, never on the command line. A password with a double quote or a
# backslash does not fit in that config line: use another.
api() { # FUNC FIELD=VALUE... (a value starting with @ is a file)
    func=$1; shift
    set -- --data-urlencode "func=$func" --data-urlencode "out=xml" --data-urlencode "sok=ok" "$@"
    answer=$(printf 'data-urlencode = "authinfo=%s:%s"\n' "$ISP_USER" "$(cat "$ISP_PASS_FILE")" \
        | curl -sS --fail --config - "$@" "$ISP_URL")
    case $answer in
        *"<error"*) echo "ispmanager $func refused: $(printf '%s' "$answer" | tr -d '\n' | cut -c1-300)" >&2; return 1 ;;
    esac
}

set -- --data-urlencode "name=$name" --data-urlencode "crt@$PMSS_LEAF" --data-urlencode "key@$PMSS_KEY"
[ -n "$chain" ] && set -- "$@" --data-urlencode "caroot@$chain"
api sslcert.setcrt "$@"
api site.edit --data-urlencode "elid=$site" --data-urlencode "site_ssl_cert=$name"
echo "service $PMSS_ITEM: certificate $name installed for site $site"
