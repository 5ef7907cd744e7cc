#!/bin/sh
# The example service: prints which of the declared variables it got,
# with values redacted to their length.
for k in POSTGRES_DSN POSTGRES_POOL_MIN POSTGRES_POOL_MAX POSTGRES_TIMEOUT_MS \
         KAFKA_BOOTSTRAP_SERVERS VALKEY_HOST VALKEY_PORT VALKEY_PASSWORD VALKEY_DB \
         STRIPE_API_KEY SLACK_CHANNEL_ID APP_GREETING UNDECLARED_ADMIN_PASSWORD; do
  eval "v=\${$k-}"
  eval "set_=\${$k+x}"
  if [ -n "$set_" ]; then
    echo "  $k = <${#v} chars>"
  else
    echo "  $k (not set)"
  fi
done
