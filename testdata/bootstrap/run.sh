#!/bin/sh
# From an empty Infisical to a running service, against the local test
# server: provision makes the runtime and admin identities and the
# folders, seed fills Infisical as the admin, and the service starts as
# the runtime. It works in a temporary folder, so the example's files stay
# as they are.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bin="$root/bin"
work=$(mktemp -d)
out="$work/server.out"
"$bin/infisical-testserver" --listen 127.0.0.1:0 --seed "$here/infisical.yaml" >"$out" 2>&1 &
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
  "$bin/secret-init" provision --execute --admin-env-file admin.env --service billing
echo
echo "== .env now (secret redacted):"
sed 's/^\(INFISICAL_CLIENT_SECRET=\).*/\1<64 hex characters>/' .env
echo
echo "== 2. secret-init seed --env-file admin.env --execute --set-values --import-env values.env"
"$bin/secret-init" seed --env-file admin.env --execute --set-values --import-env values.env
echo
echo "== the runtime identity may only read: seed with .env (to /services/billing) is refused"
"$bin/secret-init" seed --execute --service billing 2>/dev/null | grep -m1 FAILED || true
echo
echo "== 3. secret-init --service billing -- ./show-env.sh (as the runtime identity, from .env)"
"$bin/secret-init" --service billing -- "$here/../example/show-env.sh"
