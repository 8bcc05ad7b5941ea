#!/usr/bin/env bash
# Installs the system packages altyn's run and tests need on a Debian
# machine: PostgreSQL's server binaries (the embedded database and the test
# database), curl and jq (the README's examples, which a test runs),
# Chromium (the widget's browser tests) and brotli (the widget's wasm is
# served brotli-compressed; go generate ./widget and its test use it).
set -euo pipefail
need=()
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null || need+=(postgresql)
command -v curl >/dev/null || need+=(curl)
command -v jq >/dev/null || need+=(jq)
[ -x /usr/lib/chromium/chromium ] || command -v chromium >/dev/null || need+=(chromium)
command -v brotli >/dev/null || need+=(brotli)
[ ${#need[@]} -eq 0 ] && exit 0
sudo=""
[ "$(id -u)" -ne 0 ] && sudo=sudo
echo "installing ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
# Debian's postgresql package starts a cluster of its own; altyn runs its own
# private servers, so that one is not needed.
if [[ " ${need[*]} " == *" postgresql "* ]] && command -v pg_ctlcluster >/dev/null; then
  $sudo pg_ctlcluster --force "$(ls /usr/lib/postgresql | sort -V | tail -1)" main stop 2>/dev/null || true
fi
