#!/usr/bin/env bash
# Take the system down: everything in the overlay, namespace included. The PersistentVolumeClaims of
# PostgreSQL and RabbitMQ (volumeClaimTemplates) go with the namespace: pass --keep-data to keep the
# namespace and its volumes, removing only the workloads. Minikube itself keeps running (minikube stop).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
overlay=$here/overlays/minikube
keep_data=false
for arg in "$@"; do
  case $arg in
    --keep-data) keep_data=true ;;
    *) overlay=$arg ;;
  esac
done
namespace=inference-api

if $keep_data; then
  for kind in cronjob deployment statefulset job; do
    kubectl -n "$namespace" delete "$kind" -l app.kubernetes.io/part-of=inference-api --ignore-not-found --wait=true
  done
else
  kubectl delete -k "$overlay" --ignore-not-found --wait=true
  kubectl delete namespace "$namespace" --ignore-not-found --wait=true
fi
echo "down: $namespace"
