#!/usr/bin/env bash
# Bring the whole system up on Minikube, in order (database, migrations, broker, models, workers, API),
# waiting for each step, then print the API's URL. Usage: deploy/k8s/up.sh [overlay directory]
# (default: deploy/k8s/overlays/minikube). Needs minikube and kubectl; starts Minikube when it is down.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
overlay=${1:-$here/overlays/minikube}
namespace=inference-api
tag=${IMAGE_TAG:-dev}

step() { printf '\n==> %s\n' "$*"; }

step "Minikube"
if ! minikube status >/dev/null 2>&1; then
  minikube start --cpus "${MINIKUBE_CPUS:-2}" --memory "${MINIKUBE_MEMORY:-6g}" --cni calico
fi
minikube addons enable metrics-server >/dev/null

step "Images, built into Minikube (API, worker, model preparation)"
for component in api worker prepare; do
  minikube image build -t "inference-api-$component:$tag" -f "Dockerfile.$component" "$root"
done

rendered=$(mktemp)
trap 'rm -f "$rendered"' EXIT
kubectl kustomize "$overlay" >"$rendered"

# Apply the part of the rendering that belongs to one component (the app.kubernetes.io/component label).
apply() { kubectl apply -f "$rendered" -l "app.kubernetes.io/component=$1"; }

step "Namespace, configuration, secrets, network policies"
kubectl apply -f "$rendered" -l '!app.kubernetes.io/component'

step "PostgreSQL"
apply database
kubectl -n "$namespace" rollout status statefulset/postgres --timeout=300s

step "Migrations"
kubectl -n "$namespace" delete job migrate --ignore-not-found
apply migrate
kubectl -n "$namespace" wait --for=condition=complete job/migrate --timeout=300s

step "RabbitMQ"
apply broker
kubectl -n "$namespace" rollout status statefulset/rabbitmq --timeout=300s

step "Model preparation (exports to ONNX: a few minutes the first time)"
kubectl -n "$namespace" delete job prepare-models --ignore-not-found
apply prepare
kubectl -n "$namespace" wait --for=condition=complete job/prepare-models --timeout=1800s

step "Workers"
apply worker
kubectl -n "$namespace" rollout status deployment/worker --timeout=600s

step "API"
apply api
kubectl -n "$namespace" rollout status deployment/api --timeout=300s

step "Sweeper"
apply sweeper

url=$(minikube service -n "$namespace" api --url | head -n 1)
secret=$(grep -m 1 -o 'inference-api-secrets-[a-z0-9]*' "$rendered")
key=$(kubectl -n "$namespace" get secret "$secret" -o jsonpath='{.data.API_KEYS}' | base64 -d | cut -d, -f1)
step "Up: $url"
cat <<TRY
  curl $url/readyz
  curl -i -H 'Authorization: Bearer ${key:-<API key>}' -H 'Content-Type: application/json' \\
       -H 'Prefer: wait=10' -d '{"inputs": "Hello, cluster"}' $url/inference
TRY
