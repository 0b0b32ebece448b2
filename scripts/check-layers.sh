#!/usr/bin/env bash
# check-layers.sh: the layers point one way.  Each folder of src/ may include
# headers only from the folders listed for it here; a #include "../x/..." from
# any other fails the check, naming the file and the line.
#   util     nothing above it
#   store    util (storage knows no HTTP, no grammar, no API)
#   model    util, and store.h's value types
#   grammar  model, store, util (it plans SQL text; it makes no database calls)
#   http     util (it knows no routes and opens no database: the API hands
#            server_run a struct http_app)
#   api      everything but cli
#   cli      api, store, model, util
set -euo pipefail
cd "$(dirname "$0")/.."
declare -A allowed=(
  [util]="" [store]="util" [model]="util store" [grammar]="model store util"
  [http]="util" [api]="grammar http model store util" [cli]="api store model util"
)
bad=0
for dir in "${!allowed[@]}"; do
  while IFS= read -r hit; do
    [ -n "$hit" ] || continue
    dep=$(sed -E 's/.*#include "\.\.\/([a-z_]+)\/.*/\1/' <<<"$hit")
    if [[ " ${allowed[$dir]} " != *" $dep "* ]]; then
      echo "check-layers: src/$dir may not include from src/$dep: $hit" >&2
      bad=1
    fi
  done < <(grep -Hn '#include "\.\./' src/"$dir"/*.[ch] 2>/dev/null || true)
done
[ $bad -eq 0 ] && echo "check-layers: every include points down"
exit $bad
