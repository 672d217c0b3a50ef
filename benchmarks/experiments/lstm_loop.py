"""Issue 7 experiment: the zoo's own LSTM loop (`own::Lstm` in zoo/kernels/rnn_onednn.cc) alone,
outside TensorFlow, one direction on one core: forward (training), backward, forward (inference).

    python benchmarks/experiments/lstm_loop.py [--batch 256] [--rounds 3] [REV ...]

Each REV is a git revision whose rnn_onednn.cc is compiled into a small C++ program around that
loop (same compiler flags as the op); the programs run alternately, pinned to CPU 0. Without
REV: the working tree's file. The README's "before/after" figures for the per-step input
projection: `python benchmarks/experiments/lstm_loop.py --batch 256 1751eb7 8009d15`.
"""

import argparse
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SOURCE = "zoo/kernels/rnn_onednn.cc"

HARNESS = r"""
#include <oneapi/dnnl/dnnl.hpp>
#include <xmmintrin.h>
#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>
using dnnl::memory;
using tag = memory::format_tag;
using dt = memory::data_type;
#include "own.inc"
double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
int main(int argc, char** argv) {
  _mm_setcsr(_mm_getcsr() | 0x8040);  // as the op's threads
  const int64_t N = std::atoi(argv[1]), T = 40, C = 100, O = 200, G = 4 * O;
  std::vector<float> x(N * T * C), wl(C * G), wi(O * G), b(G), h0(N * O), c0(N * O), y(N * T * O),
      hn(N * O), cn(N * O), dy(N * T * O), dx(N * T * C), dwl(C * G), dwi(O * G), db(G),
      dh0(N * O), dc0(N * O), dhn(N * O), dcn(N * O);
  for (size_t i = 0; i < x.size(); ++i) x[i] = std::sin(i * 0.37f);
  for (size_t i = 0; i < wl.size(); ++i) wl[i] = 0.1f * std::sin(i * 0.11f);
  for (size_t i = 0; i < wi.size(); ++i) wi[i] = 0.1f * std::cos(i * 0.13f);
  for (size_t i = 0; i < dy.size(); ++i) dy[i] = 0.01f * std::cos(i * 0.7f);
  std::vector<float> ws(own::workspace_bytes(N, T, O) / 4);
  Pointers p{};
  p.x = x.data(); p.h0 = h0.data(); p.c0 = c0.data(); p.w_layer = wl.data(); p.w_iter = wi.data();
  p.bias = b.data(); p.y = y.data(); p.h_n = hn.data(); p.c_n = cn.data(); p.workspace = ws.data();
  p.dy = dy.data(); p.dh_n = dhn.data(); p.dc_n = dcn.data(); p.dx = dx.data(); p.dh0 = dh0.data();
  p.dc0 = dc0.data(); p.dw_layer = dwl.data(); p.dw_iter = dwi.data(); p.dbias = db.data();
  own::Lstm lstm{N, T, C, O, O, false};
  // Lane memory as large as either version of the op asks for.
  float* scratch = static_cast<float*>(lane_buffer(4, (N * T * 5 * O + 2 * N * O) * 4));
  double f = 1e9, bw = 1e9, inf = 1e9;
  for (int r = 0; r < 30; ++r) {
    double t0 = now();
    lstm.forward(p, true, nullptr);
    double t1 = now();
    lstm.backward(p, false, scratch);
    double t2 = now();
    lstm.forward(p, false, scratch);
    double t3 = now();
    f = std::min(f, t1 - t0); bw = std::min(bw, t2 - t1); inf = std::min(inf, t3 - t2);
  }
  double sum = 0;
  for (float v : y) sum += v;
  std::printf("forward %.2f ms, backward %.2f ms, inference %.2f ms (best of 30; sum of y %.6g)\n",
              f * 1e3, bw * 1e3, inf * 1e3, sum);
}
"""


def build(rev, directory):
    import tensorflow as tf  # noqa: F401  (the op's prefix finder imports it)

    from zoo import kernels

    text = (
        subprocess.run(
            ["git", "show", f"{rev}:{SOURCE}"], cwd=ROOT, check=True, capture_output=True, text=True
        ).stdout
        if rev
        else open(os.path.join(ROOT, SOURCE)).read()
    )
    # The revision's own helpers and loop: cpu_engine, lane_buffer, Pointers, namespace own.
    pieces = [
        ("dnnl::engine& cpu_engine() {", "\n}\n"),
        ("void* lane_buffer(int slot, size_t bytes) {", "\n}\n"),
        ("struct Pointers {", "\n};\n"),
        ("namespace own {\n\ninline", "}  // namespace own\n"),
    ]
    code = []
    for first, last in pieces:
        start = text.index(first)
        code.append(text[start : text.index(last, start) + len(last)])
    folder = os.path.join(directory, rev or "worktree")
    os.makedirs(folder)
    with open(os.path.join(folder, "own.inc"), "w") as handle:
        handle.write("\n".join(code))
    with open(os.path.join(folder, "main.cc"), "w") as handle:
        handle.write(HARNESS)
    prefix = kernels._onednn_prefix()
    binary = os.path.join(folder, "loop")
    subprocess.run(
        [
            os.environ.get("CXX", "g++"), "-O3", "-march=native", "-fno-trapping-math",
            "-fno-math-errno", "-std=c++17", "-w", os.path.join(folder, "main.cc"),
            f"-I{prefix}/include", f"-L{prefix}/lib", "-ldnnl", "-ltbb",
            "-Wl,--disable-new-dtags", f"-Wl,-rpath,{prefix}/lib", "-o", binary,
        ],
        check=True,
    )  # fmt: skip
    return binary


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("revs", nargs="*")
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    sys.path.insert(0, ROOT)
    revs = args.revs or [None]
    with tempfile.TemporaryDirectory() as directory:
        binaries = [build(rev, directory) for rev in revs]
        for _ in range(args.rounds):
            for rev, binary in zip(revs, binaries):
                out = subprocess.run(
                    ["taskset", "-c", "0", binary, str(args.batch)],
                    check=True, capture_output=True, text=True,
                ).stdout  # fmt: skip
                print(f"{rev or 'worktree'} batch {args.batch}: {out.strip()}")


if __name__ == "__main__":
    main()
