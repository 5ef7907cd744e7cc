#!/bin/sh
# Runs the bundled example: starts the local Infisical test server seeded
# with testdata/example/infisical.yaml, then secret-init against it.
# SECRET_INIT and INFISICAL_TESTSERVER name other binaries than bin/'s
# (the end-to-end test of this script uses its own builds).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
secret_init=${SECRET_INIT:-$root/bin/secret-init}
testserver=${INFISICAL_TESTSERVER:-$root/bin/infisical-testserver}
out=$(mktemp)
"$testserver" --listen 127.0.0.1:0 --seed "$here/infisical.yaml" >"$out" 2>&1 &
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
"$secret_init" check --service billing || true
echo
echo "== secret-init --service billing -- ./show-env.sh"
"$secret_init" --service billing -- ./show-env.sh
cat <<'NOTE'

== What happened
secret-init logged in to the test server once, listed every folder the two
contracts name in one parallel round, and started ./show-env.sh with the
declared keys: POSTGRES_TIMEOUT_MS from the environment (this script exports
it), POSTGRES_POOL_MAX from /services/billing/db (it overrides /shared/db),
SLACK_CHANNEL_ID from .env, the rest from /shared. UNDECLARED_ADMIN_PASSWORD
is in /shared/db too, but no contract declares it, so it never reached the
service. The one summary line on stderr says the same, in check's words.

== Try next (in testdata/example)
  ../../bin/secret-init plan --service billing     what a start asks for, offline
  ../../bin/secret-init --help                     every flag, its default and variable
  ../../bin/infisical-testserver --seed infisical.yaml
      then export the INFISICAL_ADDR it prints, and run check or a start with
      SECRET_INIT_LOG_LEVEL=trace, or with --required
  README.md: "Why is my key missing?", and Dockerfile.example for an image
NOTE
