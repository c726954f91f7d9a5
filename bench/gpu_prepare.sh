#!/usr/bin/env bash
# Prepare what bench/gpu_session.sh needs on the GPU machine (run here, from the project root):
# wheels the device image lacks (./.whl) and a CIFAR-10 tree small enough to carry (./.gpu-data).
# Then, with the device tool: command "bash bench/gpu_session.sh", carry [".whl", ".gpu-data"].
set -euo pipefail
cifar=${DLWPT_CIFAR10:-../shared/data/cifar10-jpeg}
bash ../shared/tools/gpu-wheels.sh snakemake==9.27.1 pydicom
# tensorboard (training jobs write event files) with only what writing them needs: protobuf and
# absl-py. Resolving its full requirements would add numpy and pillow (the image has both) and
# grpcio (for the web UI only): 30 MB more, past the 64 MiB tree limit; this way about 6 MB.
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux2014_x86_64 -d .whl "$(grep '^tensorboard==' requirements.txt)" protobuf absl-py
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
