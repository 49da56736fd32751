#!/usr/bin/env bash
# The GPU check of issue 17, one prepared script for a lent device machine (NVIDIA):
#   run(command="bash deploy/gpu/check.sh", carry=[".whl", ".gpu-data"], timeout_s=560)
# after deploy/gpu/prepare.sh here. It records the GPU, trains the neural models on CUDA
# in the ETT benchmark (H=336 and 720: the ensemble and PatchTST/64), and measures the
# inference throughput of `linear` and `patchtst` (bf16 autocast on CUDA). Every figure is
# a JSON line in $OUT/gpu.jsonl; the whole log is $OUT/log.txt. Each step has its own time
# limit so that one slow step leaves the others their turn (about 9 minutes in all).
# A dry run here: PY=.venv/bin/python DEVICE=cpu INSTALL=0 OUT=/tmp/gpu-dry deploy/gpu/check.sh
set -uo pipefail
py=${PY:-python3}
device=${DEVICE:-cuda}
out=${OUT:-/tmp/gpu-check}
mkdir -p "$out"
exec > >(tee "$out/log.txt") 2>&1
if [ "${INSTALL:-1}" = 1 ]; then
  "$py" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl || exit 1
fi
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
"$py" -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())"
step() {  # step SECONDS ARGS...: one benchmark, its JSON line appended to gpu.jsonl
  local limit=$1
  shift
  echo "== $*"
  timeout "$limit" "$py" -m gridbrain.cli "$@" | tee -a "$out/steps.txt" | tail -1 |
    grep '^{' >>"$out/gpu.jsonl" || echo "!! failed or timed out: $*"
}
ett=(benchmark ett --file .gpu-data/ETTh1.csv --device "$device")
step 90 "${ett[@]}" --horizon 336 --model ensemble
step 90 "${ett[@]}" --horizon 720 --model ensemble
step 150 "${ett[@]}" --horizon 336 --model patchtst --lookback 512
step 150 "${ett[@]}" --horizon 720 --model patchtst --lookback 512
step 45 benchmark inference --model linear --device "$device" --seconds 2
step 45 benchmark inference --model patchtst --device "$device" --seconds 2
echo "done: $(wc -l <"$out/gpu.jsonl") results"
