#!/bin/sh
# Runs the bundled example: starts the local Infisical test server seeded
# with testdata/example/infisical.yaml, then secret-init against it.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bin="$root/bin"
out=$(mktemp)
"$bin/infisical-testserver" --listen 127.0.0.1:0 --seed "$here/infisical.yaml" >"$out" 2>&1 &
srv=$!
trap 'kill $srv 2>/dev/null; rm -f "$out"' EXIT INT TERM
i=0
until grep -q '^INFISICAL_ADDR=' "$out"; do
  i=$((i + 1)); [ $i -lt 100 ] || { cat "$out"; exit 1; }
  sleep 0.05
done
export "$(grep -m1 '^INFISICAL_ADDR=' "$out")"
echo "== local Infisical test server at $INFISICAL_ADDR"
cd "$here"
# The process environment wins over Infisical and .env:
export POSTGRES_TIMEOUT_MS=1500
echo "== secret-init check --service billing (where each key comes from)"
"$bin/secret-init" check --service billing || true
echo
echo "== secret-init --service billing -- ./show-env.sh"
"$bin/secret-init" --service billing -- ./show-env.sh
