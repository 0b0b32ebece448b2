#!/usr/bin/env bash
# check-layers.sh: the layers point one way.  Each folder of src/ may include
# headers only from its own folder and the folders listed for it here; any
# other #include "..." fails the check, naming the file and the line, and so
# does a folder of src/ with no rule here (a new layer must be placed).
#   util     nothing above it
#   store    util (storage knows no HTTP, no grammar, no API)
#   model    util, and store.h's value types (struct store_param)
#   grammar  model, store, util (it plans SQL text; it makes no database calls)
#   http     util (it knows no routes and opens no database: the API hands
#            server_run a struct http_app)
#   api      everything but cli
#   cli      api, store, model, util
# Paths are resolved (../util/../store/x.h is store), and "#  include" counts.
set -euo pipefail
cd "$(dirname "$0")/.."
declare -A allowed=(
  [util]="" [store]="util" [model]="util store" [grammar]="model store util"
  [http]="util" [api]="grammar http model store util" [cli]="api store model util"
)
bad=0
for path in src/*/; do
  dir=$(basename "$path")
  if [ -z "${allowed[$dir]+set}" ]; then
    echo "check-layers: src/$dir has no rule in scripts/check-layers.sh" >&2
    bad=1
    continue
  fi
  for f in "$path"*.[ch]; do
    [ -e "$f" ] || continue
    while IFS=: read -r line inc; do
      # where the include lands, relative to src/ ("" for a system header or a missing file)
      target=$(realpath -m --relative-to=src "$(dirname "$f")/$inc")
      case "$target" in
        ../*) echo "check-layers: $f:$line includes $inc, outside src/" >&2; bad=1; continue ;;
        */*) dep=${target%%/*} ;;
        *) dep="" ;; # src/main.c's level: nothing includes it
      esac
      [ "$dep" = "$dir" ] && continue
      if [ -z "$dep" ] || [[ " ${allowed[$dir]} " != *" $dep "* ]]; then
        echo "check-layers: $f:$line: src/$dir may not include from src/${dep:-.}: $inc" >&2
        bad=1
      fi
    done < <(grep -nE '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "$f" | sed -E 's/^([0-9]+):[^"]*"([^"]+)".*/\1:\2/')
  done
done
[ $bad -eq 0 ] && echo "check-layers: every include points down"
exit $bad
