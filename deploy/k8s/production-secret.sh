#!/usr/bin/env bash
# The production Secret `inference-api-secrets`, made from an env file that git ignores (default
# deploy/k8s/.env), applied apart from overlays/production, which only names it:
#   cp deploy/k8s/.env.example deploy/k8s/.env      # then change every value
#   deploy/k8s/production-secret.sh                 # apply it: before the overlay, and after each change
#   deploy/k8s/production-secret.sh --print [FILE]  # the manifest only, applied nowhere (no cluster needed)
# A script, not a kustomization: kustomize has no optional files, so a secretGenerator reading the
# ignored file would fail to render on every clone. The name carries no hash: after changing a value,
# `kubectl -n inference-api rollout restart deployment` so the workloads read it.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
print=false
if [ "${1:-}" = --print ]; then
  print=true
  shift
fi
env_file=${1:-$here/.env}
if [ ! -f "$env_file" ]; then
  echo "production-secret.sh: no $env_file; first: cp $here/.env.example $env_file, then change every value" >&2
  exit 2
fi
manifest=$(kubectl create secret generic inference-api-secrets --namespace inference-api \
  --from-env-file="$env_file" --dry-run=client --output yaml)
if $print; then
  printf '%s\n' "$manifest"
else
  printf '%s\n' "$manifest" | kubectl apply --filename -
fi
