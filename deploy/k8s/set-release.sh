#!/usr/bin/env bash
# Point an overlay at a release: our three images at VERSION (and at their digests when given, so what
# runs is exactly what was built and attested), and the release's Jobs named after it (migrate-VERSION,
# prepare-models-VERSION). The release workflow runs it on overlays/production after pushing the images.
# Usage: deploy/k8s/set-release.sh OVERLAY_DIR VERSION [api=sha256:... worker=sha256:... prepare=sha256:...]
set -euo pipefail

if [ $# -lt 2 ]; then
  echo "usage: $0 OVERLAY_DIR VERSION [COMPONENT=sha256:DIGEST ...]" >&2
  exit 2
fi
kustomization=$1/kustomization.yaml
version=$2
shift 2
if ! [[ $version =~ ^[0-9]+\.[0-9]+\.[0-9]+([.+-][0-9A-Za-z.-]+)?$ ]]; then
  echo "set-release.sh: $version is not a version" >&2
  exit 2
fi
digests=""
for pair in "$@"; do
  if ! [[ $pair =~ ^(api|worker|prepare)=sha256:[0-9a-f]{64}$ ]]; then
    echo "set-release.sh: $pair is not COMPONENT=sha256:<64 hex>" >&2
    exit 2
  fi
  digests="$digests $pair"
done

updated=$(mktemp)
trap 'rm -f "$updated"' EXIT
# In `images:`, each entry of ours gets newTag VERSION and, when given, its digest (an old digest goes).
awk -v version="$version" -v digests="$digests" '
  BEGIN { n = split(digests, pairs, " "); for (i = 1; i <= n; i++) { split(pairs[i], kv, "="); digest[kv[1]] = kv[2] } }
  /^  - name: inference-api-(api|worker|prepare)$/ { component = $3; sub(/^inference-api-/, "", component); print; next }
  /^  - / { component = "" }
  component != "" && /^    digest:/ { next }
  component != "" && /^    newTag:/ {
    print "    newTag: " version
    if (component in digest) print "    digest: " digest[component]
    next
  }
  { print }
' "$kustomization" |
  sed -E "s/^(        value: (migrate|prepare-models))-.*/\1-$version/" >"$updated"
cat "$updated" >"$kustomization"
echo "set-release: $kustomization at $version${digests:+ (digests:$digests)}"
