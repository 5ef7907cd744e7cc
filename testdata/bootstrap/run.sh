#!/bin/sh
# From an empty Infisical to a running service, against the local test
# server: provision makes the runtime and admin identities and the
# folders, seed fills Infisical as the admin, and the service starts as
# the runtime. It works in a temporary folder, so the example's files stay
# as they are. SECRET_INIT and INFISICAL_TESTSERVER name other binaries
# than bin/'s (the end-to-end test of this script uses its own builds).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
secret_init=${SECRET_INIT:-$root/bin/secret-init}
testserver=${INFISICAL_TESTSERVER:-$root/bin/infisical-testserver}
work=$(mktemp -d)
out="$work/server.out"
"$testserver" --listen 127.0.0.1:0 --seed "$here/infisical.yaml" >"$out" 2>&1 &
srv=$!
trap 'kill $srv 2>/dev/null; rm -rf "$work"' EXIT INT TERM
i=0
until grep -q '^INFISICAL_ADDR=' "$out"; do
  i=$((i + 1)); [ $i -lt 100 ] || { cat "$out"; exit 1; }
  sleep 0.05
done
export "$(grep -m1 '^INFISICAL_ADDR=' "$out")"
export INFISICAL_PROJECT_ID=6f1c2a9e-0000-4000-8000-00000000b222
cp -R "$here/../example/contracts" "$work/contracts"
cp "$here/dotenv.example" "$work/.env"
cp "$here/values.env" "$work/values.env"
cd "$work"
echo "== local Infisical test server at $INFISICAL_ADDR, an empty project"
echo
echo "== 1. secret-init provision --execute --admin-env-file admin.env --service billing"
echo "   (as the bootstrap admin: INFISICAL_TOKEN in the environment, never in a file provision writes)"
INFISICAL_TOKEN=example-bootstrap-admin-token \
  "$secret_init" provision --execute --admin-env-file admin.env --service billing
echo
echo "== .env now (secret redacted):"
sed 's/^\(INFISICAL_CLIENT_SECRET=\).*/\1<64 hex characters>/' .env
echo
echo "== 2. secret-init seed --env-file admin.env --execute --set-values --import-env values.env"
"$secret_init" seed --env-file admin.env --execute --set-values --import-env values.env
echo
echo "== the runtime identity may only read: seed with .env (to /services/billing) is refused"
"$secret_init" seed --execute --service billing 2>/dev/null | grep -m1 FAILED || true
echo
echo "== 3. secret-init --service billing -- ./show-env.sh (as the runtime identity, from .env)"
"$secret_init" --service billing -- "$here/../example/show-env.sh"
echo
echo "== provision again: it finds everything in place"
INFISICAL_TOKEN=example-bootstrap-admin-token \
  "$secret_init" provision --execute --admin-env-file admin.env --service billing | tail -1
cat <<'NOTE'

== What happened
provision, as the bootstrap admin, made two machine identities with
universal auth: secret-init-runtime (project role viewer: it reads) and
secret-init-admin (member: it reads and writes), wrote their client IDs
and secrets into .env and admin.env (mode 0600, .env's own lines kept),
and made the folders the contracts use. seed, as the admin, filled
Infisical from values.env; the same seed as the runtime was refused. The
service then started as the runtime, with the values the admin wrote. A
second provision changed nothing: every line of it is a SKIP.
NOTE
