#!/usr/bin/env bash
# The layer check fails where it should: on a fake engine tree whose reading
# layer includes the policy layer, whose facts include the server, and with a
# file outside every layer; and passes on the same tree without them.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
engine=$tmp/webhook/engine
for layer in base reading facts policy rules admission; do mkdir -p "$engine/$layer"; done
echo '#include "engine/base/status.h"' > "$engine/reading/ok.h"
echo '#include "engine/reading/ok.h"' > "$engine/admission/ok.cc"
"$here/check_layers.py" "$tmp" > "$tmp/out" || { echo "FAIL: a clean tree was rejected:"; cat "$tmp/out"; exit 1; }

printf '#pragma once\n#include <string>\n#include "engine/policy/rule.h"\n' > "$engine/reading/up.h"
echo '#include "server/metrics.h"' > "$engine/facts/out.cc"
echo '' > "$engine/stray.cc"
if "$here/check_layers.py" "$tmp" > "$tmp/out"; then
  echo "FAIL: violations were not reported"; cat "$tmp/out"; exit 1
fi
for expected in \
  'webhook/engine/reading/up.h:3: includes "engine/policy/rule.h": layer reading may not include policy' \
  'webhook/engine/facts/out.cc:1: includes "server/metrics.h", outside the engine' \
  'webhook/engine/stray.cc: not inside a layer folder'; do
  grep -qF "$expected" "$tmp/out" || { echo "FAIL: missing: $expected"; cat "$tmp/out"; exit 1; }
done
echo "ok: the layer check reports upward includes, includes outside the engine and stray files"
