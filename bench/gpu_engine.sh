#!/usr/bin/env bash
# Engine throughput on a CUDA host: bf16 autocast + SDPA attention, with and without
# torch.compile, batch sizes up to 1024, against the same naive pipeline() baseline.
# Usage: bench/gpu_engine.sh [model-dir] [data-dir]   (from the repository root, venv active)
set -euo pipefail
model=${1:-models/tapewatch-minilm}
data=${2:-../shared/data}
python -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else "no CUDA device")'
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
python bench/bench_engine.py --model-dir "$model" --data-dir "$data" --device cuda \
  --texts 4000 --baseline-texts 300 --batch-sizes 1 32 128 512 1024
python bench/bench_engine.py --model-dir "$model" --data-dir "$data" --device cuda \
  --texts 4000 --baseline-texts 100 --batch-sizes 128 512 1024 --compile
