#!/usr/bin/env bash
# The production Secrets, made from an env file that git ignores (default deploy/k8s/.env), applied apart
# from overlays/production, which only names them:
#   inference-api-secrets   every value of the file (the application's URLs, keys; KEDA's broker address)
#   inference-db-owner      the database owner (CloudNativePG bootstrap), basic-auth
#   inference-db-app        the application role (CloudNativePG managed role), basic-auth
#   rabbitmq-credentials    RabbitMQ's default user (the RabbitMQ Cluster Operator's externalSecret)
#   inference-db-backup     object storage credentials for PostgreSQL's backups
# Usage:
#   cp deploy/k8s/.env.example deploy/k8s/.env      # then change every value
#   deploy/k8s/production-secret.sh                 # apply them: before the overlay, and after each change
#   deploy/k8s/production-secret.sh --print [FILE]  # the manifests only, applied nowhere (no cluster needed)
# A script, not a kustomization: kustomize has no optional files, so a secretGenerator reading the
# ignored file would fail to render on every clone. The names carry no hash: after changing a value,
# `kubectl -n inference-api rollout restart deployment` so the workloads read it.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
namespace=inference-api
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

value() {
  local line
  line=$(grep -m 1 "^$1=" "$env_file" || true)
  if [ -z "$line" ]; then
    echo "production-secret.sh: $env_file has no $1 (see $here/.env.example)" >&2
    exit 2
  fi
  printf '%s' "${line#*=}"
}

secret() {  # secret NAME TYPE ARGS...: one Secret's manifest
  local name=$1 type=$2
  shift 2
  kubectl create secret generic "$name" --namespace "$namespace" --type "$type" "$@" --dry-run=client --output yaml
}

for key in POSTGRES_OWNER POSTGRES_OWNER_PASSWORD POSTGRES_USER POSTGRES_PASSWORD RABBITMQ_USER RABBITMQ_PASSWORD \
  BACKUP_ACCESS_KEY_ID BACKUP_ACCESS_SECRET_KEY; do
  value "$key" >/dev/null
done
manifests=$(
  secret inference-api-secrets Opaque --from-env-file="$env_file"
  echo ---
  secret inference-db-owner kubernetes.io/basic-auth \
    --from-literal=username="$(value POSTGRES_OWNER)" --from-literal=password="$(value POSTGRES_OWNER_PASSWORD)"
  echo ---
  secret inference-db-app kubernetes.io/basic-auth \
    --from-literal=username="$(value POSTGRES_USER)" --from-literal=password="$(value POSTGRES_PASSWORD)"
  echo ---
  secret rabbitmq-credentials Opaque \
    --from-literal=username="$(value RABBITMQ_USER)" --from-literal=password="$(value RABBITMQ_PASSWORD)"
  echo ---
  secret inference-db-backup Opaque --from-literal=ACCESS_KEY_ID="$(value BACKUP_ACCESS_KEY_ID)" \
    --from-literal=ACCESS_SECRET_KEY="$(value BACKUP_ACCESS_SECRET_KEY)"
)
if $print; then
  printf '%s\n' "$manifests"
else
  printf '%s\n' "$manifests" | kubectl apply --filename -
fi
