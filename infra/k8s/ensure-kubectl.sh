#!/usr/bin/env bash
# Prints the path of a kubectl that can render infra/k8s (`kubectl kustomize` with Kustomize >= v4,
# which components/ needs). Idempotent: uses kubectl from PATH when it is recent enough, else one
# cached earlier, else installs Debian's kubernetes-client package (as root, when kubectl is
# missing), and where that is too old (Debian 12 ships 1.20, Kustomize v2) unpacks Debian 13's
# kubectl package into a cache directory. Rendering needs no cluster and no network.
#   infra/k8s/ensure-kubectl.sh            # print a usable kubectl, installing one if needed
#   infra/k8s/ensure-kubectl.sh --cached   # ignore PATH: use or fetch the cached Debian 13 kubectl
set -euo pipefail

cache="${HANDOFF_SYNC_KUBECTL_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/handoff-sync/kubectl}"
cached="$cache/root/usr/bin/kubectl"
debian_suite="trixie"

usable() {
  local version major
  version="$("$1" version --client 2>/dev/null | sed -n 's/^Kustomize Version: v\([0-9][0-9]*\).*/\1/p')" || return 1
  major="${version:-0}"
  [ "$major" -ge 4 ]
}

if [ "${1:-}" != "--cached" ]; then
  if command -v kubectl >/dev/null 2>&1 && usable "$(command -v kubectl)"; then
    command -v kubectl
    exit 0
  fi
fi
if [ -x "$cached" ] && usable "$cached"; then
  echo "$cached"
  exit 0
fi

mkdir -p "$cache"
exec 9>"$cache/.lock"
flock 9 # parallel test workers: one installs, the others wait

if [ "${1:-}" != "--cached" ] && ! command -v kubectl >/dev/null 2>&1 && [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "ensure-kubectl: installing Debian's kubernetes-client package" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y --no-install-recommends kubernetes-client >&2 \
    || { apt-get update >&2 && apt-get install -y --no-install-recommends kubernetes-client >&2; } \
    || echo "ensure-kubectl: apt-get could not install kubernetes-client" >&2
  if command -v kubectl >/dev/null 2>&1 && usable "$(command -v kubectl)"; then
    command -v kubectl
    exit 0
  fi
fi

if [ ! -x "$cached" ] || ! usable "$cached"; then
  command -v apt-get >/dev/null 2>&1 && command -v dpkg-deb >/dev/null 2>&1 || {
    echo "ensure-kubectl: need kubectl >= 1.21 (Kustomize >= v4); install it, or run on Debian/Ubuntu with apt" >&2
    exit 1
  }
  echo "ensure-kubectl: kubectl missing or too old; fetching Debian ${debian_suite}'s kubectl package into $cache" >&2
  apt_dir="$cache/apt"
  rm -rf "$apt_dir" "$cache/root"
  mkdir -p "$apt_dir/lists/partial" "$apt_dir/archives/partial"
  echo "deb http://deb.debian.org/debian ${debian_suite} main" >"$apt_dir/sources.list"
  # A private package list: the system's sources and state stay untouched; apt still verifies the
  # archive signatures with the system keyring.
  apt_opts=(
    -o "Dir::Etc::SourceList=$apt_dir/sources.list" -o "Dir::Etc::SourceParts=/dev/null"
    -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache::Archives=$apt_dir/archives"
    -o "Dir::State::Status=/dev/null" -o "Debug::NoLocking=1"
  )
  apt-get "${apt_opts[@]}" update >&2
  (cd "$apt_dir" && apt-get "${apt_opts[@]}" download "kubectl/${debian_suite}" >&2)
  dpkg-deb -x "$apt_dir"/kubectl_*.deb "$cache/root"
  rm -rf "$apt_dir"
  usable "$cached" || { echo "ensure-kubectl: the fetched kubectl does not run" >&2; exit 1; }
fi
echo "$cached"
