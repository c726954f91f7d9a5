#!/usr/bin/env bash
# Bundles what bench/gpu_session.sh needs for a GPU machine without network that has Python with
# CUDA torch (a CUDA container image, say). Run from the project root on a machine with network:
#   bash bench/gpu_prepare.sh [PYTHON_VERSION]      (the GPU machine's Python, default 3.12)
# It writes two git-ignored folders: .whl/ (x86_64 wheels of the pinned packages such an image
# usually lacks: snakemake, pydicom, and tensorboard with only protobuf and absl-py, enough to
# write event files) and .gpu-data/cifar-jpeg.tar (a CIFAR-10 image tree from DLWPT_CIFAR10 or
# ../shared/data/cifar10-jpeg: airplane and bird in full, 8 images of each other class, 18 MB).
# Copy the checkout with both folders to the GPU machine and run bench/gpu_session.sh there.
set -euo pipefail
pyver=${1:-3.12}
cifar=${DLWPT_CIFAR10:-../shared/data/cifar10-jpeg}
wheels=(--only-binary=:all: --python-version "$pyver" --implementation cp
        --platform manylinux2014_x86_64 -d .whl)
pin() { grep "^$1==" requirements.txt; }
python3 -m pip download -q "${wheels[@]}" "$(pin snakemake)" "$(pin pydicom)"
python3 -m pip download -q --no-deps "${wheels[@]}" "$(pin tensorboard)" protobuf absl-py
mkdir -p .gpu-data
members=(train/airplane train/bird test/airplane test/bird)
for class in automobile cat deer dog frog horse ship truck; do
  for split in train test; do
    members+=($(cd "$cifar" && ls "$split/$class" | head -8 | sed "s|^|$split/$class/|"))
  done
done
tar -C "$cifar" -cf .gpu-data/cifar-jpeg.tar "${members[@]}"
du -sh .whl .gpu-data
