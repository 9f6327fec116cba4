#!/bin/sh
# Regenerates the app's SDK module from the zoo's MobileNetV2: generate_sdk.sh [SDK_DIR [BUILD_DIR]]
# (default mobilenet-sdk/ and build/ beside this script). Run from anywhere; needs the repository's environment
# (`make install` at the repository root creates .venv with the pockettorch command) or POCKETTORCH=path.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
pockettorch=${POCKETTORCH:-$here/../../.venv/bin/pockettorch}
sdk_dir=${1:-$here/mobilenet-sdk}
build_dir=${2:-$here/build}
mkdir -p "$build_dir"
"$pockettorch" export zoo:mobilenet_v2 --out "$build_dir/mobilenet_v2.ptm"
# --all-kernels: the BenchmarkActivity also loads other models pushed by the device harness.
"$pockettorch" sdk android "$build_dir/mobilenet_v2.ptm" --out "$sdk_dir" \
    --package org.pockettorch.sample.classifier --class-name ImageClassifier --all-kernels
