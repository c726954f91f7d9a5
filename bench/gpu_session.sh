#!/usr/bin/env bash
# The GPU measurements, on a machine with an NVIDIA GPU, from the project root:
#   bash bench/gpu_session.sh OUTDIR
# 1. the CUDA-graph correctness tests (tests/test_engine.py -k cuda);
# 2. bench/bench_train.py --device cuda: seconds per epoch, book loop against resident loop;
# 3. the whole zoo at the book's settings on CUDA, one seed (bench/gpu.yaml), with gpu=2 on a
#    one-GPU machine: two training jobs start, one claims the GPU and the other waits for it
#    (claims.txt lists what their logs say), so never two run on one GPU.
# Python: .venv (make setup) when present, else python3 with CUDA torch, to which the wheels of
# .whl/ (bench/gpu_prepare.sh) are added. Data: DLWPT_DATA / DLWPT_CIFAR10 as for any run, else
# the small tree of .gpu-data/cifar-jpeg.tar when present. OUTDIR receives gpu.txt, cuda-test.txt,
# bench.txt, ingest.log, zoo.log, claims.txt and the run's results (train/, metrics.csv,
# comparisons.csv, report.html); BENCHMARKS.md's GPU section is where the figures go.
set -uo pipefail
[ $# -eq 1 ] || { echo "usage: bash bench/gpu_session.sh OUTDIR" >&2; exit 2; }
outdir=$(mkdir -p "$1" && cd "$1" && pwd)
python=python3
if [ -x .venv/bin/python ]; then
  python=.venv/bin/python
elif [ -d .whl ]; then
  python3 -m pip install -q --no-index --find-links .whl snakemake pydicom protobuf absl-py
  # --no-deps: .whl holds what writing event files needs, not tensorboard's web server
  python3 -m pip install -q --no-index --find-links .whl --no-deps "$(grep '^tensorboard==' requirements.txt)"
fi
if [ -z "${DLWPT_CIFAR10:-}" ] && [ -f .gpu-data/cifar-jpeg.tar ]; then
  mkdir -p .gpu-data/cifar10 && tar -C .gpu-data/cifar10 -xf .gpu-data/cifar-jpeg.tar
  export DLWPT_CIFAR10=$PWD/.gpu-data/cifar10
fi
export PYTHONPATH=$PWD
nvidia-smi --query-gpu=name,memory.total --format=csv | tee "$outdir/gpu.txt"
$python -m snakemake --cores 16 --resources gpu=1 --configfile bench/gpu.yaml \
  results/data/cifar2.pt > "$outdir/ingest.log" 2>&1
timeout 120 $python -m pytest -q tests/test_engine.py -k cuda 2>&1 | tail -5 | tee "$outdir/cuda-test.txt"
timeout 200 $python bench/bench_train.py --device cuda --epochs 3 \
  --models net width batch_norm res res_deep fc_512 2>&1 | tee "$outdir/bench.txt"
timeout 420 $python -m snakemake --cores 16 --resources gpu=2 --configfile bench/gpu.yaml \
  > "$outdir/zoo.log" 2>&1
grep -H "claimed GPU\|waiting for one to free up" logs/train_model/*/*.log > "$outdir/claims.txt"
cp -r results/train results/metrics.csv results/comparisons.csv results/report.html "$outdir/" \
  2>/dev/null
tail -3 "$outdir/zoo.log"
