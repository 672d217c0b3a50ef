"""Issue 7 experiment: torch.nn.LSTM with and without its oneDNN RNN kernels
(torch.backends.mkldnn), bidirectional, training and inference, batch 32 and 256.

    python benchmarks/experiments/torch_onednn.py
"""

import statistics
import time

import torch

torch.set_num_threads(2)
T, F, U = 40, 100, 200
for B in (256, 32):
    x = torch.randn(T, B, F)
    lstm = torch.nn.LSTM(F, U, bidirectional=True)

    def inf():
        with torch.inference_mode():
            lstm(x)

    def tr():
        out = lstm(x)[0]
        (out * out).sum().backward()

    for name, f in (("infer", inf), ("train", tr)):
        r = {}
        for en in (True, False):
            with torch.backends.mkldnn.flags(enabled=en):
                f()
                ts = []
                for _ in range(7):
                    t = time.perf_counter()
                    f()
                    ts.append(time.perf_counter() - t)
                r[en] = statistics.median(ts) * 1e3
        print(B, name, f"mkldnn {r[True]:.2f} ms, native {r[False]:.2f} ms")
