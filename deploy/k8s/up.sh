#!/usr/bin/env bash
# Bring the system up from an overlay: render it, apply every object it has, then wait until this
# release's Jobs have run and every Deployment has rolled out. Usage:
#   deploy/k8s/up.sh [OVERLAY]          (default deploy/k8s/overlays/minikube)
#   IMAGE_TAG=1.4.0 deploy/k8s/up.sh deploy/k8s/overlays/production
# IMAGE_TAG (default `dev` on Minikube, the overlay's own tag elsewhere) sets our three images' tag and
# names the release's Jobs after it (migrate-<tag>, prepare-models-<tag>: a Job cannot change in place,
# so each release has its own). The order is the cluster's, not this script's: the API, workers and
# sweeper wait in init containers for the schema and the models (deploy/k8s/base/wait-for-*.yaml).
# On the minikube overlay it starts Minikube when it is down and builds the images into it. Production
# needs its Secrets first (deploy/k8s/production-secret.sh) and the operators its overlay names
# (CloudNativePG, RabbitMQ Cluster Operator, Prometheus Operator; KEDA for production-keda).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
overlay=$(cd "${1:-$here/overlays/minikube}" && pwd)
namespace=inference-api
minikube=false
if [ "$(basename "$overlay")" = minikube ]; then
  minikube=true
fi
tag=${IMAGE_TAG:-}
if $minikube; then
  tag=${tag:-dev}
fi

step() { printf '\n==> %s\n' "$*"; }

if $minikube; then
  step "Minikube"
  if ! minikube status >/dev/null 2>&1; then
    minikube start --cpus "${MINIKUBE_CPUS:-2}" --memory "${MINIKUBE_MEMORY:-6g}" --cni calico
  fi
  minikube addons enable metrics-server >/dev/null
  step "Images, built into Minikube (API, worker, model preparation), tag $tag"
  for component in api worker prepare; do
    minikube image build -t "inference-api-$component:$tag" -f "Dockerfile.$component" "$root"
  done
elif ! kubectl -n "$namespace" get secret inference-api-secrets >/dev/null 2>&1; then
  echo "up.sh: no Secret inference-api-secrets in $namespace: run deploy/k8s/production-secret.sh first" >&2
  exit 2
fi

step "Render $overlay${tag:+ at $tag}"
# A throwaway kustomization over the overlay (kustomize wants it beside, not in /tmp) sets the tag.
wrapper=$(mktemp -d "$here/.up.XXXXXX")
rendered=$(mktemp)
trap 'rm -rf "$wrapper" "$rendered"' EXIT
plain=$(kubectl kustomize "$overlay")
{
  echo "apiVersion: kustomize.config.k8s.io/v1beta1"
  echo "kind: Kustomization"
  echo "resources:"
  echo "  - $(realpath --relative-to="$wrapper" "$overlay")"
  if [ -n "$tag" ]; then
    echo "images:"
    for component in api worker prepare; do
      image=$(printf '%s\n' "$plain" | sed -n "s|^ *image: \([^:@ ]*inference-api-$component\)[:@].*|\1|p" | head -n 1)
      printf '  - name: %s\n    newTag: "%s"\n' "$image" "$tag"
    done
    echo "patches:"
    for job in migrate prepare; do
      name=$([ "$job" = prepare ] && echo prepare-models || echo migrate)
      printf '  - target: {kind: Job, labelSelector: app.kubernetes.io/component=%s}\n' "$job"
      printf '    patch: |-\n      - {op: replace, path: /metadata/name, value: "%s-%s"}\n' "$name" "$tag"
    done
  fi
} >"$wrapper/kustomization.yaml"
kubectl kustomize "$wrapper" >"$rendered"

step "Apply every object of the overlay"
kubectl apply -f "$rendered"

step "This release's Jobs: migrations, then model preparation (a few minutes the first time)"
for job in $(kubectl get -f "$rendered" -o name 2>/dev/null | grep '^job\.batch/' || true); do
  kubectl -n "$namespace" wait --for=condition=complete "$job" --timeout=1800s
done

step "Rollouts (each pod waits for the schema, workers for their models)"
for deployment in $(kubectl get -f "$rendered" -o name 2>/dev/null | grep '^deployment\.apps/' || true); do
  kubectl -n "$namespace" rollout status "$deployment" --timeout=900s
done

if $minikube; then
  url=$(minikube service -n "$namespace" api --url | head -n 1)
  secret=$(grep -m 1 -o 'inference-api-secrets-[a-z0-9]*' "$rendered")
  key=$(kubectl -n "$namespace" get secret "$secret" -o jsonpath='{.data.API_KEYS}' | base64 -d | cut -d, -f1)
  step "Up: $url"
  cat <<TRY
  curl $url/readyz
  curl -i -H 'Authorization: Bearer ${key:-<API key>}' -H 'Content-Type: application/json' \\
       -H 'Prefer: wait=10' -d '{"inputs": "Hello, cluster"}' $url/inference
TRY
else
  step "Up: the Service api in $namespace (kubectl -n $namespace get service api; put your Ingress in front)"
fi
