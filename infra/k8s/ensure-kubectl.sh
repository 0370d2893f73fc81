#!/usr/bin/env bash
# Makes sure `kubectl kustomize` can render infra/k8s, installing Debian's kubernetes-client package
# when kubectl is missing. Idempotent: does nothing when kubectl already runs. Prints kubectl's path.
# Rendering needs no cluster and no network (`kubectl kustomize` works offline).
set -euo pipefail

if command -v kubectl >/dev/null 2>&1 && kubectl version --client >/dev/null 2>&1; then
  command -v kubectl
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure-kubectl: kubectl is missing and this is not a Debian-based system; install kubectl (>= 1.27, with kustomize) yourself" >&2
  exit 1
fi

sudo=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then sudo=(sudo -n); else
    echo "ensure-kubectl: kubectl is missing; run as root or install the kubernetes-client package" >&2
    exit 1
  fi
fi

# Serialise concurrent callers (parallel test workers) on one lock.
exec 9>"${TMPDIR:-/tmp}/handoff-sync-ensure-kubectl.lock"
flock 9
if ! command -v kubectl >/dev/null 2>&1; then
  echo "ensure-kubectl: installing Debian's kubernetes-client package" >&2
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get install -y --no-install-recommends kubernetes-client >&2 \
    || { "${sudo[@]}" apt-get update >&2 && "${sudo[@]}" apt-get install -y --no-install-recommends kubernetes-client >&2; }
fi
kubectl version --client >/dev/null
command -v kubectl
