#!/usr/bin/env bash
# Rewrites the generated section of docs/config.md (between the BEGIN and END
# marker comments) with `tfm help config-keys --markdown`, the list the
# registries and the fixed sections give. ConfigDocs.GeneratedSectionMatchesTheBinary
# fails until this is run after a change to any entry's keys or help.
# Usage: scripts/gen-config-docs.sh [TFM_BINARY]   (default: build/release/tools/tfm)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
tfm=${1:-$root/build/release/tools/tfm}
doc=$root/docs/config.md
begin='<!-- BEGIN GENERATED: tfm help config-keys --markdown -->'
end='<!-- END GENERATED -->'
grep -qxF "$begin" "$doc" && grep -qxF "$end" "$doc" || { echo "error: $doc lacks the marker lines" >&2; exit 2; }
generated=$(mktemp)
trap 'rm -f "$generated" "$generated.md"' EXIT
"$tfm" help config-keys --markdown > "$generated"
awk -v begin="$begin" -v end="$end" -v file="$generated" '
  $0 == begin { print; while ((getline line < file) > 0) print line; skip = 1; next }
  $0 == end { skip = 0 }
  !skip { print }' "$doc" > "$generated.md"
mv "$generated.md" "$doc"
echo "docs/config.md: generated section rewritten from $tfm"
