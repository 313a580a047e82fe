#!/usr/bin/env bash
# The GPU check for a session with a CUDA machine: one script, about 6-8 minutes on an H100/H200.
#
#   1. parity of the CUDA path in float32 (TF32 off): tests/model/test_parity.py, the CUDA-graph decoder against
#      step-by-step decoding (tests/model/test_static_decode.py) and batched decoding, all with
#      R1OMNI_TEST_DEVICE=cuda; then whether this torch has the int8 weight kernel on CUDA (the fast profile's
#      decoding uses it where it exists, and says so in model.info() where it does not);
#   2. the full-size benchmark (main.py bench: a random-weight folder in the published layout, loaded by the
#      app's loader, one fresh process per configuration): exact float32, exact float16 and the fast profile
#      (float16), 100 new tokens — per stage, time to the first token, tokens/s, peak CUDA memory, the ratios,
#      and how far fast moves from exact float16 (teacher-forced step logits); then exact and fast with the CUDA
#      graphs off (R1OMNI_CUDA_GRAPHS=0) to show what the graphs bring;
#   3. offline clips/s with batching (bench/eval_bench.py --batch-size 4), exact and fast.
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
MODEL=/tmp/r1omni-bench-model  # written once by the first bench, reused by the second
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
python3 -c "import torch; from core.model.int8 import kernel_problem; \
print('int8 weight kernel on cuda:', kernel_problem(torch.device('cuda')) or 'available')" 2>&1 | tee -a "$OUT/tests.txt"

timeout 330 python3 main.py bench --device cuda --configs exact:float32,exact:float16,fast:float16 --tokens 100 \
    --repeats 3 --model-dir "$MODEL" --json "$OUT/bench.json" 2>&1 | tee "$OUT/bench.txt"
R1OMNI_CUDA_GRAPHS=0 timeout 150 python3 main.py bench --device cuda --configs exact:float16,fast:float16 \
    --tokens 100 --repeats 2 --model-dir "$MODEL" --json "$OUT/bench_no_graphs.json" 2>&1 | tee "$OUT/bench_no_graphs.txt"
for profile in exact fast; do
    timeout 120 python3 bench/eval_bench.py --device cuda --clips 8 --tokens 64 --batch-size 4 --profile "$profile" \
        2>&1 | tee "$OUT/eval_$profile.txt"
done
# The model server on the GPU (needs ray[serve] and fastapi on the machine): windows/s per replica, streaming and
# batched, and the overhead over the same model in-process. R1OMNI_MODEL_DIR names a full-size checkpoint folder
# where the machine has one; without it the tiny parity model measures the server's own overhead only.
timeout 240 python3 bench/remote_bench.py --device cuda --dtype float16 --gpus-per-replica 1 --max-new-tokens 64 \
    --model "${R1OMNI_MODEL_DIR:-tests/fixtures/parity/checkpoint}" 2>&1 | tee "$OUT/remote.txt"
