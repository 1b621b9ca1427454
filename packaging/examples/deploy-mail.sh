#!/bin/sh
# pmsslreseller deploy hook: mail the new certificate's files to the customer
# through the local MTA (sendmail -t), as a MIME message with attachments.
#
# Use: in /usr/local/mgr5/etc/pmsslreseller.toml
#   [deploy]
#   command = "/usr/share/doc/pmsslreseller/examples/deploy-mail.sh"
# Optional: FROM (default root@$(hostname -f)) and BCC, set in the command:
#   command = "FROM=ssl@example.com BCC=support@example.com /usr/share/doc/pmsslreseller/examples/deploy-mail.sh"
# Never sends the private key, even when [deploy] include_key = true.
# The environment is described in README "The customer's certificate".
set -eu

to=${PMSS_EMAIL:-}
if [ -z "$to" ]; then
    echo "service $PMSS_ITEM: the account has no e-mail address; nothing sent" >&2
    exit 2
fi
command -v sendmail >/dev/null 2>&1 || { echo "no sendmail on PATH: install an MTA" >&2; exit 3; }
from=${FROM:-root@$(hostname -f 2>/dev/null || hostname)}
boundary="pmsslreseller-$PMSS_ITEM-$$"

attach() { # NAME PATH
    [ -n "${2:-}" ] && [ -f "$2" ] || return 0
    printf -- '--%s\nContent-Type: application/octet-stream; name="%s"\n' "$boundary" "$1"
    printf 'Content-Disposition: attachment; filename="%s"\nContent-Transfer-Encoding: base64\n\n' "$1"
    base64 "$2"
    printf '\n'
}

{
    printf 'From: %s\nTo: %s\n' "$from" "$to"
    [ -n "${BCC:-}" ] && printf 'Bcc: %s\n' "$BCC"
    printf 'Subject: New SSL certificate for %s\n' "$PMSS_CN"
    printf 'MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="%s"\n\n' "$boundary"
    printf -- '--%s\nContent-Type: text/plain; charset=utf-8\n\n' "$boundary"
    if [ "${PMSS_LANG:-en}" = ru ]; then
        printf 'Для %s выпущен новый SSL-сертификат (серийный номер %s), действует с %s по %s.\n' \
            "$PMSS_NAMES" "${PMSS_SERIAL:-?}" "${PMSS_NOT_BEFORE:-?}" "${PMSS_NOT_AFTER:-?}"
        printf 'Установите его на сервер: fullchain.pem (сертификат с цепочкой) и ваш закрытый ключ.\n\n'
    else
        printf 'A new SSL certificate was issued for %s (serial %s), valid %s to %s.\n' \
            "$PMSS_NAMES" "${PMSS_SERIAL:-?}" "${PMSS_NOT_BEFORE:-?}" "${PMSS_NOT_AFTER:-?}"
        printf 'Install it on your server: fullchain.pem (the certificate with its chain) and your private key.\n\n'
    fi
    attach leaf.pem "${PMSS_LEAF:-}"
    attach chain.pem "${PMSS_CHAIN:-}"
    attach fullchain.pem "${PMSS_FULLCHAIN:-}"
    attach certificate.p7b "${PMSS_P7B:-}"
    printf -- '--%s--\n' "$boundary"
} | sendmail -t

echo "service $PMSS_ITEM: certificate $PMSS_SERIAL mailed to $to"
