#!/usr/bin/env bash
# Prepare what bench/gpu_session.sh needs on the GPU machine (run here, from the project root):
# wheels the device image lacks (./.whl) and a CIFAR-10 tree small enough to carry (./.gpu-data).
# Then, with the device tool: command "bash bench/gpu_session.sh", carry [".whl", ".gpu-data"].
set -euo pipefail
cifar=${DLWPT_CIFAR10:-../shared/data/cifar10-jpeg}
bash ../shared/tools/gpu-wheels.sh snakemake==9.27.1 pydicom
mkdir -p .gpu-data
grep -qx '/.gpu-data/' .git/info/exclude 2>/dev/null || echo '/.gpu-data/' >> .git/info/exclude
members=(train/airplane train/bird test/airplane test/bird)
for class in automobile cat deer dog frog horse ship truck; do
  for split in train test; do
    members+=($(cd "$cifar" && ls "$split/$class" | head -8 | sed "s|^|$split/$class/|"))
  done
done
tar -C "$cifar" -cf .gpu-data/cifar-jpeg.tar "${members[@]}"
du -sh .whl .gpu-data
