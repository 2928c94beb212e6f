#!/bin/sh
# Alertmanager container entrypoint (POSIX sh with busybox sed and grep, as in
# the official image; no envsubst). Alertmanager reads no environment
# variables, so this renders alertmanager.yml.tmpl from the environment into
# the config file, then execs Alertmanager with --config.file and the given
# arguments. `entrypoint.sh render` only renders (used by the tests).
#
# Required: ALERT_EMAIL_TO, ALERT_WEBHOOK_URL, SMTP_SMARTHOST (host:port).
# Optional: SMTP_FROM (alertmanager@localhost), SMTP_AUTH_USERNAME,
# SMTP_AUTH_PASSWORD (empty), SMTP_REQUIRE_TLS (true).
# Paths: ALERTMANAGER_TEMPLATE (/etc/alertmanager/alertmanager.yml.tmpl),
# ALERTMANAGER_CONFIG (/etc/alertmanager/alertmanager.yml), ALERTMANAGER_BIN
# (alertmanager).
set -eu

template="${ALERTMANAGER_TEMPLATE:-/etc/alertmanager/alertmanager.yml.tmpl}"
config="${ALERTMANAGER_CONFIG:-/etc/alertmanager/alertmanager.yml}"

: "${SMTP_FROM:=alertmanager@localhost}"
: "${SMTP_AUTH_USERNAME:=}"
: "${SMTP_AUTH_PASSWORD:=}"
: "${SMTP_REQUIRE_TLS:=true}"
export SMTP_FROM SMTP_AUTH_USERNAME SMTP_AUTH_PASSWORD SMTP_REQUIRE_TLS

fail() {
    echo "alertmanager entrypoint: $*" >&2
    exit 64
}

case "$SMTP_REQUIRE_TLS" in
    true | false) ;;
    *) fail "SMTP_REQUIRE_TLS must be true or false" ;;
esac

missing=""
for name in ALERT_EMAIL_TO ALERT_WEBHOOK_URL SMTP_SMARTHOST; do
    eval "value=\${$name:-}"
    [ -n "$value" ] || missing="$missing $name"
done
[ -z "$missing" ] || fail "set$missing"

newline='
'
script=""
# Placeholder names come from the template; they match [A-Z_][A-Z0-9_]*, so eval is safe.
for name in $(grep -o '\${[A-Z_][A-Z0-9_]*}' "$template" | sed 's/^\${//; s/}$//'); do
    eval "isset=\${$name+yes}"
    [ "${isset:-}" = yes ] || fail "the template uses \${$name}, which is not set"
    eval "value=\${$name}"
    case "$value" in
        *"$newline"*) fail "$name must be a single line" ;;
    esac
    # YAML single quotes double a quote; then escape sed's replacement specials.
    escaped=$(printf '%s\n' "$value" | sed -e "s/'/''/g" -e 's/[\\&|]/\\&/g')
    script="$script
s|\${$name}|$escaped|g"
done

mkdir -p "$(dirname "$config")"
umask 077
sed -e "$script" "$template" > "$config.tmp"
mv "$config.tmp" "$config"

if [ "${1:-}" = "render" ]; then
    exit 0
fi
exec "${ALERTMANAGER_BIN:-alertmanager}" --config.file="$config" "$@"
