#!/bin/sh
# Regenerates the Swift package the sample apps build on, from the zoo's MobileNetV2:
#   sample_apps/ios/generate_package.sh [OUT_DIR]     (default OUT_DIR: sample_apps/ios/Generated)
# Uses `pockettorch` from PATH, or the one named by $POCKETTORCH (e.g. POCKETTORCH=.venv/bin/pockettorch).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-"$here/Generated"}
pockettorch=${POCKETTORCH:-pockettorch}
mkdir -p "$out"
"$pockettorch" export zoo:mobilenet_v2 --out "$out/mobilenet_v2.ptm" --quiet
# --all-kernels: the benchmark app runs any .ptm copied to it, not only MobileNetV2.
"$pockettorch" sdk ios "$out/mobilenet_v2.ptm" --out "$out/Classifier" --module-name Classifier --all-kernels
