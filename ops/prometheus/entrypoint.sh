#!/bin/sh
# Prometheus container entrypoint: write $METRICS_TOKEN (possibly empty) to the
# bearer-token file that prometheus.yml names, then exec Prometheus with the
# given arguments. Prometheus reads no environment variables itself.
#   PROMETHEUS_CONFIG_DIR  directory of prometheus.yml (default /etc/prometheus)
#   PROMETHEUS_BIN         the binary to exec (default prometheus)
# `entrypoint.sh render` writes the token file and exits (used by the tests).
set -eu

config_dir="${PROMETHEUS_CONFIG_DIR:-/etc/prometheus}"
token_file="$config_dir/secrets/metrics_token"

umask 077
mkdir -p "$config_dir/secrets"
printf '%s' "${METRICS_TOKEN:-}" > "$token_file.tmp"
mv "$token_file.tmp" "$token_file"

if [ "${1:-}" = "render" ]; then
    exit 0
fi
exec "${PROMETHEUS_BIN:-prometheus}" "$@"
