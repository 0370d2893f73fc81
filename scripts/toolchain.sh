# Sourced by every entry point: provides the pinned Node and pnpm, installed from the npm registry
# outside the workspace, and puts them first on PATH. The machine's own Node may be older.
# shellcheck shell=bash
HANDOFF_SYNC_NODE_VERSION=24.21.0
HANDOFF_SYNC_PNPM_VERSION=12.4.2
HANDOFF_SYNC_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
HANDOFF_SYNC_TOOLCHAIN="${HANDOFF_SYNC_TOOLCHAIN_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/handoff-sync/toolchain-node${HANDOFF_SYNC_NODE_VERSION}-pnpm${HANDOFF_SYNC_PNPM_VERSION}}"

handoff_sync_toolchain() {
  local bin="$HANDOFF_SYNC_TOOLCHAIN/node_modules/.bin"
  # The checks ignore the caller's NODE_OPTIONS: a flag Node refuses there (the caller's business,
  # reported when their command runs) must not look like a broken install and wipe the toolchain.
  if [ ! -f "$HANDOFF_SYNC_TOOLCHAIN/.complete" ] || ! NODE_OPTIONS= "$bin/node" --version >/dev/null 2>&1; then
    command -v npm >/dev/null 2>&1 || { echo "toolchain: npm is needed once to install Node $HANDOFF_SYNC_NODE_VERSION" >&2; return 1; }
    echo "toolchain: installing Node $HANDOFF_SYNC_NODE_VERSION and pnpm $HANDOFF_SYNC_PNPM_VERSION into $HANDOFF_SYNC_TOOLCHAIN" >&2
    rm -rf "$HANDOFF_SYNC_TOOLCHAIN"
    mkdir -p "$HANDOFF_SYNC_TOOLCHAIN"
    echo '{"name":"handoff-sync-toolchain","private":true}' >"$HANDOFF_SYNC_TOOLCHAIN/package.json"
    (cd "$HANDOFF_SYNC_TOOLCHAIN" && npm install --no-audit --no-fund --loglevel=error -E \
      "node@$HANDOFF_SYNC_NODE_VERSION" "pnpm@$HANDOFF_SYNC_PNPM_VERSION" >&2) || return 1
    touch "$HANDOFF_SYNC_TOOLCHAIN/.complete"
  fi
  local got
  got="$(NODE_OPTIONS= "$bin/node" --version)"
  if [ "$got" != "v$HANDOFF_SYNC_NODE_VERSION" ]; then
    echo "toolchain: expected Node v$HANDOFF_SYNC_NODE_VERSION, found $got at $bin/node" >&2
    return 1
  fi
  got="$(NODE_OPTIONS= "$bin/pnpm" --version)"
  if [ "$got" != "$HANDOFF_SYNC_PNPM_VERSION" ]; then
    echo "toolchain: expected pnpm $HANDOFF_SYNC_PNPM_VERSION, found $got" >&2
    return 1
  fi
  export PATH="$bin:$PATH"
  export COREPACK_ENABLE_STRICT=0
}

# Installs dependencies when the lockfile changed since the last install, then builds.
handoff_sync_install_and_build() {
  cd "$HANDOFF_SYNC_ROOT" || return 1
  local stamp="node_modules/.handoff-sync-lock"
  if [ ! -f "$stamp" ] || ! cmp -s pnpm-lock.yaml "$stamp"; then
    pnpm install --frozen-lockfile >&2 || return 1
    cp pnpm-lock.yaml "$stamp"
  fi
  pnpm run -s build >&2
}
