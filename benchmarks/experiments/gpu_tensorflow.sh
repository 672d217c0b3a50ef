# TensorFlow on the lent GPU machine, whose image has PyTorch/JAX with CUDA 13 but no TensorFlow
# and no network. How the README's GPU figures and GPU test runs of 2026-11-23 were made.
#
# Here (once): TensorFlow 2.21's cp312 wheel (a CUDA 12 build) unpacked with its headers, its
# profiler plugin (replaced by an empty module) and its StableHLO extension left out and every
# .so stripped; with it the cp312 wheels of keras 3.15.1, optree, namex, astunparse, gast,
# google-pasta, termcolor, protobuf and nvidia-cuda-runtime-cu12 (cudart 12); all as one
# `tar | xz -9` (261 MB), split into 56 MiB parts (`split -b 56m -d -a 1 payload.txz .blob/p`),
# sent one per call (`carry: [".blob/pN"]`, `cat .blob/pN >> /tmp/pl/payload.txz`; the
# repository's saved_models/ kept out of the index meanwhile, so a call stays under 64 MiB).
#
# There, in each call after the last part: `. benchmarks/experiments/gpu_tensorflow.sh`. It
# unpacks once, gives TensorFlow the image's CUDA 13 cuBLAS/cuFFT/cuSOLVER/cuSPARSE/cuRAND/
# nvJitLink under the CUDA 12 names it opens, and the image's cuDNN 9. Not a configuration
# NVIDIA or TensorFlow support: it ran the tests and the benchmark, which is all it was for.
if [ ! -d /tmp/site/tensorflow ]; then
  mkdir -p /tmp/site && xz -d -T16 < /tmp/pl/payload.txz | tar -C /tmp/site -xf - || return 9
  mkdir -p /tmp/cu12 && mv /tmp/site/nvidia/cuda_runtime/lib/libcudart.so.12 /tmp/cu12/
  rm -rf /tmp/site/nvidia  # would hide the image's nvidia namespace (torch's libraries)
  NVDIRS=$(python3 -c "import nvidia; print(' '.join(nvidia.__path__))")
  link() {
    f=$(find $NVDIRS -name "$1.*" -type f 2>/dev/null | sort | tail -1)
    echo "$2 -> $f"
    [ -n "$f" ] && ln -sf "$f" "/tmp/cu12/$2"
  }
  link libcublas.so libcublas.so.12
  link libcublasLt.so libcublasLt.so.12
  link libcufft.so libcufft.so.11
  link libcusolver.so libcusolver.so.11
  link libcusparse.so libcusparse.so.12
  link libnvJitLink.so libnvJitLink.so.12
  link libcurand.so libcurand.so.10
  dirname "$(find $NVDIRS -name "libcudnn.so.9*" | head -1)" > /tmp/cudnn_dir
fi
export PYTHONPATH=/tmp/site:$PWD LD_LIBRARY_PATH=/tmp/cu12:$(cat /tmp/cudnn_dir):$LD_LIBRARY_PATH
# TensorFlow would take the whole GPU; torch runs in the same benchmark process.
export TF_FORCE_GPU_ALLOW_GROWTH=true PYTHONUNBUFFERED=1
