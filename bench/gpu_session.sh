#!/usr/bin/env bash
# One prepared run on the GPU machine (see bench/gpu_prepare.sh): the CUDA-graph correctness
# test, the benchmark (book loop vs resident loop, CUDA), then the whole zoo at the book's settings
# (one seed, bench/gpu.yaml: three do not fit one device session).
# Everything worth keeping lands in $OUT.
set -uo pipefail
OUT=${OUT:-$PWD/gpu-out}
mkdir -p "$OUT" .gpu-data/cifar10
python3 -m pip install -q --no-index --find-links .whl snakemake==9.27.1 pydicom protobuf absl-py
# --no-deps: .whl holds what writing event files needs, not tensorboard's web server (gpu_prepare.sh)
python3 -m pip install -q --no-index --find-links .whl --no-deps "$(grep '^tensorboard==' requirements.txt)"
python3 -c "import torch.utils.tensorboard" || echo "tensorboard did not install: training jobs will fail"
tar -C .gpu-data/cifar10 -xf .gpu-data/cifar-jpeg.tar
export DLWPT_CIFAR10=$PWD/.gpu-data/cifar10 PYTHONPATH=$PWD
nvidia-smi --query-gpu=name,memory.total --format=csv | tee "$OUT/gpu.txt"
python3 -m snakemake --cores 16 --resources gpu=1 --configfile bench/gpu.yaml \
  results/data/cifar2.pt > "$OUT/ingest.log" 2>&1
timeout 120 python3 -m pytest -q tests/test_engine.py -k cuda 2>&1 | tail -5 | tee "$OUT/cuda-test.txt"
timeout 200 python3 bench/bench_train.py --device cuda --epochs 3 \
  --models net width batch_norm res res_deep fc_512 2>&1 | tee "$OUT/bench.txt"
# gpu=2 on a one-GPU machine (issue 10): two training jobs start, one claims the GPU and the
# other waits for it (its log says so), so never two on one GPU.
timeout 420 python3 -m snakemake --cores 16 --resources gpu=2 --configfile bench/gpu.yaml \
  > "$OUT/zoo.log" 2>&1
grep -H "claimed GPU\|waiting for one to free up" logs/train_model/*/*.log > "$OUT/claims.txt"
cp -r results/train results/metrics.csv results/comparisons.csv results/report.html "$OUT/" \
  2>/dev/null
tail -3 "$OUT/zoo.log"
