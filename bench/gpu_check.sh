#!/usr/bin/env bash
# The GPU check for a session with a CUDA machine: one script, about 5-7 minutes on an H100/H200.
#
#   1. parity of the CUDA path in float32 (TF32 off): tests/model/test_parity.py, the CUDA-graph decoder against
#      step-by-step decoding (tests/model/test_static_decode.py) and batched decoding, all with
#      R1OMNI_TEST_DEVICE=cuda;
#   2. the full-size benchmark: fast path (CUDA graphs) against the naive composition, 100 and 128 new tokens,
#      float16 and bfloat16, then float16 with the graphs off (R1OMNI_CUDA_GRAPHS=0) to show what they bring;
#   3. offline clips/s with batching (bench/eval_bench.py --batch-size 4).
#
# The machine's python3 has torch with CUDA but an older transformers and no PyAV: carry wheels. Here, once:
#   echo /.whl/ >> .git/info/exclude
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#     --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
#     -d .whl transformers==5.24.0 av==18.1.0 platformdirs==4.14.8
# then call the device tool with carry [".whl"] and the command `bash bench/gpu_check.sh`; the logs and JSON
# come back from $OUT.
set -u
OUT=${OUT:-/tmp/gpu-check}
mkdir -p "$OUT"
if [ -d .whl ]; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
        && export PYTHONPATH=/tmp/site
fi
export PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$OUT/gpu.txt"
python3 -c "import torch, transformers; print('torch', torch.__version__, 'transformers', transformers.__version__)" \
    | tee -a "$OUT/gpu.txt"

R1OMNI_TEST_DEVICE=cuda timeout 240 python3 -m pytest -q -p no:cacheprovider \
    tests/model/test_parity.py tests/model/test_static_decode.py tests/model/test_batch.py 2>&1 | tee "$OUT/tests.txt"

timeout 300 python3 main.py bench --device cuda --dtypes float32,float16,bfloat16 --tokens 100,128 \
    --json "$OUT/bench.json" 2>&1 | tee "$OUT/bench.txt"
R1OMNI_CUDA_GRAPHS=0 timeout 120 python3 main.py bench --device cuda --dtypes float16 --tokens 100 \
    --json "$OUT/bench_no_graphs.json" 2>&1 | tee "$OUT/bench_no_graphs.txt"
timeout 200 python3 bench/eval_bench.py --device cuda --clips 8 --tokens 64 --batch-size 4 2>&1 | tee "$OUT/eval.txt"
# The model server on the GPU (needs ray[serve] and fastapi on the machine): windows/s per replica, streaming and
# batched, and the overhead over the same model in-process. R1OMNI_MODEL_DIR names a full-size checkpoint folder
# where the machine has one; without it the tiny parity model measures the server's own overhead only.
timeout 240 python3 bench/remote_bench.py --device cuda --dtype float16 --gpus-per-replica 1 --max-new-tokens 64 \
    --model "${R1OMNI_MODEL_DIR:-tests/fixtures/parity/checkpoint}" 2>&1 | tee "$OUT/remote.txt"
