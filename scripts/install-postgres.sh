#!/usr/bin/env bash
# Install Debian's PostgreSQL server for the tests and benchmarks of the PostgreSQL backend, unless its server
# binaries (initdb, pg_ctl, postgres) are already there. The tests start throwaway clusters of their own
# (testnet/postgres.py); this script never creates or starts one, and the package's own cluster is not used.
#
# Prints the binaries' directory as its last line on stdout (logs go to stderr). Needs apt-get and root (as on CI)
# when PostgreSQL is missing; where it cannot install, it says why in one line and exits 1.
set -euo pipefail

log() { printf '[install-postgres] %s\n' "$*" >&2; }

# the same search as testnet/postgres.py: pg_config's bindir, the newest /usr/lib/postgresql/*/bin, initdb on PATH
find_bindir() {
  local candidates=() dir initdb
  if command -v pg_config >/dev/null 2>&1; then
    dir=$(pg_config --bindir 2>/dev/null || true)
    [ -n "$dir" ] && candidates+=("$dir")
  fi
  while IFS= read -r dir; do
    candidates+=("$dir")
  done < <(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k5,5 -n -r)
  if initdb=$(command -v initdb 2>/dev/null); then
    candidates+=("$(dirname "$(readlink -f "$initdb")")")
  fi
  for dir in "${candidates[@]}"; do
    if [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ] && [ -x "$dir/postgres" ] && [ -x "$dir/psql" ]; then
      printf '%s\n' "$dir"
      return 0
    fi
  done
  return 1
}

if bindir=$(find_bindir); then
  log "PostgreSQL already installed: $("$bindir/postgres" --version 2>/dev/null || echo "$bindir")"
  printf '%s\n' "$bindir"
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1 || [ "$(id -u)" != 0 ]; then
  log "cannot install PostgreSQL here (needs apt-get as root): install its server package (initdb, pg_ctl) by hand"
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
# the package lists may be stale or absent on a fresh machine: refresh only when the first attempt fails
if ! apt-get install -y -q postgresql >&2; then
  apt-get update -q >&2
  if ! apt-get install -y -q postgresql >&2; then
    log "apt-get install postgresql failed (see above)"
    exit 1
  fi
fi
if ! bindir=$(find_bindir); then
  log "apt-get installed postgresql but no initdb/pg_ctl/postgres/psql directory was found"
  exit 1
fi
log "installed $("$bindir/postgres" --version 2>/dev/null || echo "$bindir")"
printf '%s\n' "$bindir"
