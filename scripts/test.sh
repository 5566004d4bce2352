#!/usr/bin/env bash
# The test command of README.md, and what .ci/run calls: bring what the suite needs, then pytest.
#
# - As root with apt-get: installs PgBouncer and OpenSSL (and PostgreSQL) when missing,
#   printing each command. Otherwise the tests that need a missing program skip and name it
#   (under CI=true they fail instead).
# - Makes sure the PostgreSQL on 127.0.0.1:5432 answers, starting its cluster if it is down
#   (unless TEST_DATABASE_URL names another server).
# - Creates .venv, installs requirements.txt, runs pytest on backend/ (extra arguments go to pytest).
set -euo pipefail
cd "$(dirname "$0")/.."

run() {
  echo "+ $*" >&2
  "$@"
}

have() { command -v "$1" >/dev/null 2>&1; }

missing=()
have pgbouncer || missing+=(pgbouncer)
have openssl || missing+=(openssl)
if [ -z "${TEST_DATABASE_URL:-}" ] && ! have pg_ctlcluster; then missing+=(postgresql); fi
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && have apt-get; then
    run apt-get update -qq
    run env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "missing: ${missing[*]} (install with: sudo apt-get install -y ${missing[*]});" \
      "the tests that need them will skip" >&2
  fi
fi

if [ -z "${TEST_DATABASE_URL:-}" ] && have pg_isready; then
  if ! pg_isready -q -h 127.0.0.1 -p 5432 && have pg_ctlcluster && [ -d /etc/postgresql ]; then
    version="$(ls /etc/postgresql | sort -V | tail -n 1)"
    run pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  fi
  for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
  pg_isready -h 127.0.0.1 -p 5432 || echo "PostgreSQL does not answer on 127.0.0.1:5432" >&2
fi

[ -x .venv/bin/python ] || run python3 -m venv .venv
run .venv/bin/pip install -q -r requirements.txt
run .venv/bin/python -m pytest backend "$@"
