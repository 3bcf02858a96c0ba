#!/usr/bin/env bash
# Generates docs/ with tfplugindocs from the provider schema, templates/ and examples/.
#
#   tools/docs.sh generate   rewrite docs/ in place
#   tools/docs.sh check      fail when the committed docs/ differ from a fresh generation
#
# tfplugindocs runs the terraform it finds on PATH (and would download one otherwise), so the
# locally built Terraform is put first on PATH.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
tfplugindocs=$(tools/build.sh path tfplugindocs)
terraform=$(tools/build.sh path terraform)
export PATH="$(dirname "$terraform"):$PATH"

generate_in() {
  "$tfplugindocs" generate --provider-dir "$1" --provider-name imagedist \
    --rendered-provider-name imagedist
}

case ${1:-generate} in
  generate)
    generate_in "$root"
    ;;
  check)
    scratch=$(mktemp -d)
    trap 'rm -rf "$scratch"' EXIT
    # Generate in a copy, so the check never rewrites the work tree.
    cp -r go.mod go.sum main.go internal examples templates "$scratch"/
    [ -d docs ] && cp -r docs "$scratch"/
    generate_in "$scratch" > "$scratch/generate.log" 2>&1 || {
      cat "$scratch/generate.log"
      exit 1
    }
    if ! diff -ru docs "$scratch/docs"; then
      echo "docs/ is stale: run 'make docs' and commit the result." >&2
      exit 1
    fi
    echo "docs/ is up to date."
    ;;
  *)
    echo "usage: tools/docs.sh generate|check" >&2
    exit 2
    ;;
esac
