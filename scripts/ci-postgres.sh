#!/usr/bin/env bash
# Make a local PostgreSQL available for the service tests (Debian/Ubuntu, as root): install it from apt when
# missing, start the cluster, create a superuser role for the current user, and print a SQLAlchemy URL for the
# admin database. The tests create and drop their own database (trustaudit_test_*) on that server.
# Usage: eval "$(scripts/ci-postgres.sh)"  -> exports TRUSTAUDIT_TEST_PG_URL
set -euo pipefail
if ! command -v pg_ctlcluster >/dev/null 2>&1; then
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "ci-postgres: PostgreSQL is not installed and cannot be installed here (needs root and apt-get)" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq postgresql >&2
fi
ver=$(ls /usr/lib/postgresql | sort -n | tail -1)
if ! pg_lsclusters -h 2>/dev/null | grep -q "^$ver main"; then
  pg_createcluster "$ver" main >&2
fi
if ! pg_lsclusters -h | grep -q "^$ver main .* online"; then
  pg_ctlcluster --skip-systemctl-redirect "$ver" main start >&2
fi
for _ in $(seq 1 30); do
  pg_isready -q && break
  sleep 0.5
done
me=$(id -un)
if [ "$(id -u)" = 0 ]; then
  su postgres -c "psql -tAc \"select 1 from pg_roles where rolname='$me'\"" | grep -q 1 \
    || su postgres -c "psql -qc 'create role \"$me\" superuser login'" >&2
fi
echo "export TRUSTAUDIT_TEST_PG_URL='postgresql+psycopg://$me@/postgres?host=/var/run/postgresql'"
