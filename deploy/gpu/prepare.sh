#!/usr/bin/env bash
# Prepares the GPU check (deploy/gpu/check.sh) on a machine with package-registry access:
# the wheels the GPU image lacks (Python 3.12, x86-64; its image has torch, numpy, pandas,
# transformers, click, tqdm) into .whl/, and ETTh1 from the shared data into .gpu-data/.
# Both are ignored by git (.git/info/exclude) and travel with the run as `carry`.
set -euo pipefail
cd "$(dirname "$0")/../.."
lock() { grep -i "^$1==" requirements.lock; }
mkdir -p .git/info .whl .gpu-data
for path in /.whl/ /.gpu-data/; do
  grep -qxF "$path" .git/info/exclude 2>/dev/null || echo "$path" >>.git/info/exclude
done
wanted=(pvlib pydantic pydantic_core pydantic-settings annotated-types typing-inspection
  python-dotenv SQLAlchemy greenlet psycopg2-binary msgspec)
pins=()
for name in "${wanted[@]}"; do pins+=("$(lock "$name")"); done
python3 -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 \
  --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_24_x86_64 \
  --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 -d .whl "${pins[@]}"
data=${GRIDBRAIN_SHARED_DATA_DIR:-../shared/data}
cp "$data/ETT/ETTh1.csv" .gpu-data/
du -sh .whl .gpu-data
echo "ready: run deploy/gpu/check.sh on the device with carry [.whl, .gpu-data]"
