// Issue 7 experiment: oneDNN's bidirectional LSTM primitive called from C++ directly (no
// TensorFlow), the floor for zoo.kernels. T=40, input 100, 200 units; weights reordered every
// call as the op does. Build and run (the zoo's venv active):
//   g++ -O2 -std=c++17 -I$VIRTUAL_ENV/include benchmarks/experiments/onednn_lstm.cc \
//     -L$VIRTUAL_ENV/lib -ldnnl -Wl,--disable-new-dtags -Wl,-rpath,$VIRTUAL_ENV/lib -o /tmp/onednn_lstm
//   /tmp/onednn_lstm 32 train    # forward + backward, batch 32
//   /tmp/onednn_lstm 256         # inference forward, batch 256

#include <oneapi/dnnl/dnnl.hpp>
#include <chrono>
#include <cstdio>
#include <vector>
#include <cstring>
#include <unordered_map>
using namespace dnnl;
using tag = memory::format_tag; using dt = memory::data_type;
int main(int argc, char** argv) {
  int T = 40, N = atoi(argv[1]), C = 100, O = 200, D = 2, G = 4;
  engine eng(engine::kind::cpu, 0); stream s(eng);
  auto src_md = memory::desc({T, N, C}, dt::f32, tag::tnc);
  auto dst_md = memory::desc({T, N, D * O}, dt::f32, tag::tnc);
  auto wl_any = memory::desc({1, D, C, G, O}, dt::f32, tag::any);
  auto wi_any = memory::desc({1, D, O, G, O}, dt::f32, tag::any);
  auto wl_md = memory::desc({1, D, C, G, O}, dt::f32, tag::ldigo);
  auto wi_md = memory::desc({1, D, O, G, O}, dt::f32, tag::ldigo);
  auto b_md = memory::desc({1, D, G, O}, dt::f32, tag::ldgo);
  auto st_md = memory::desc({1, D, N, O}, dt::f32, tag::ldnc);
  bool train = argc > 2;  // any second argument: training
  auto pk = train ? prop_kind::forward_training : prop_kind::forward_inference;
  auto fpd = lstm_forward::primitive_desc(eng, pk, rnn_direction::bidirectional_concat,
      src_md, st_md, st_md, wl_any, wi_any, b_md, dst_md, st_md, st_md);
  memory src(src_md, eng), dst(dst_md, eng), wl(wl_md, eng), wi(wi_md, eng), b(b_md, eng),
      h0(st_md, eng), c0(st_md, eng), hT(st_md, eng), cT(st_md, eng);
  memory wl2(fpd.weights_layer_desc(), eng), wi2(fpd.weights_iter_desc(), eng);
  memory ws(fpd.workspace_desc(), eng);
  float* p = (float*)src.get_data_handle(); for (size_t i = 0; i < (size_t)T*N*C; ++i) p[i] = 0.01f*(i%7);
  lstm_backward::primitive_desc bpd;
  memory dsrc, dh0, dc0, dwl, dwi, db, ddst, dhT, dcT, dwl2, dwi2, wlb, wib;
  if (train) {
    auto wl_anyb = wl_any, wi_anyb = wi_any;
    bpd = lstm_backward::primitive_desc(eng, prop_kind::backward, rnn_direction::bidirectional_concat,
      src_md, st_md, st_md, wl_anyb, wi_anyb, b_md, dst_md, st_md, st_md,
      src_md, st_md, st_md, wl_any, wi_any, b_md, dst_md, st_md, st_md, fpd);
    dsrc = memory(src_md, eng); dh0 = memory(st_md, eng); dc0 = memory(st_md, eng);
    db = memory(b_md, eng); ddst = memory(dst_md, eng); dhT = memory(st_md, eng); dcT = memory(st_md, eng);
    dwl2 = memory(bpd.diff_weights_layer_desc(), eng); dwi2 = memory(bpd.diff_weights_iter_desc(), eng);
    dwl = memory(wl_md, eng); dwi = memory(wi_md, eng);
    wlb = memory(bpd.weights_layer_desc(), eng); wib = memory(bpd.weights_iter_desc(), eng);
  }
  auto fwd = lstm_forward(fpd);
  lstm_backward bwd; if (train) bwd = lstm_backward(bpd);
  auto run = [&]() {
    reorder(wl, wl2).execute(s, wl, wl2); reorder(wi, wi2).execute(s, wi, wi2);
    std::unordered_map<int, memory> a = {{DNNL_ARG_SRC_LAYER, src}, {DNNL_ARG_SRC_ITER, h0}, {DNNL_ARG_SRC_ITER_C, c0},
      {DNNL_ARG_WEIGHTS_LAYER, wl2}, {DNNL_ARG_WEIGHTS_ITER, wi2}, {DNNL_ARG_BIAS, b}, {DNNL_ARG_DST_LAYER, dst},
      {DNNL_ARG_DST_ITER, hT}, {DNNL_ARG_DST_ITER_C, cT}};
    if (train) a[DNNL_ARG_WORKSPACE] = ws;
    fwd.execute(s, a);
    if (train) {
      reorder(wl, wlb).execute(s, wl, wlb); reorder(wi, wib).execute(s, wi, wib);
      // zero diff weights (accumulated)
      memset(dwl2.get_data_handle(), 0, bpd.diff_weights_layer_desc().get_size());
      memset(dwi2.get_data_handle(), 0, bpd.diff_weights_iter_desc().get_size());
      memset(db.get_data_handle(), 0, b_md.get_size());
      bwd.execute(s, {{DNNL_ARG_SRC_LAYER, src}, {DNNL_ARG_SRC_ITER, h0}, {DNNL_ARG_SRC_ITER_C, c0},
        {DNNL_ARG_WEIGHTS_LAYER, wlb}, {DNNL_ARG_WEIGHTS_ITER, wib}, {DNNL_ARG_BIAS, b}, {DNNL_ARG_DST_LAYER, dst},
        {DNNL_ARG_DST_ITER, hT}, {DNNL_ARG_DST_ITER_C, cT}, {DNNL_ARG_WORKSPACE, ws},
        {DNNL_ARG_DIFF_SRC_LAYER, dsrc}, {DNNL_ARG_DIFF_SRC_ITER, dh0}, {DNNL_ARG_DIFF_SRC_ITER_C, dc0},
        {DNNL_ARG_DIFF_WEIGHTS_LAYER, dwl2}, {DNNL_ARG_DIFF_WEIGHTS_ITER, dwi2}, {DNNL_ARG_DIFF_BIAS, db},
        {DNNL_ARG_DIFF_DST_LAYER, ddst}, {DNNL_ARG_DIFF_DST_ITER, dhT}, {DNNL_ARG_DIFF_DST_ITER_C, dcT}});
      reorder(dwl2, dwl).execute(s, dwl2, dwl); reorder(dwi2, dwi).execute(s, dwi2, dwi);
    }
    s.wait();
  };
  for (int i = 0; i < 5; ++i) run();
  int iters = 50;
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < iters; ++i) run();
  double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count() / iters;
  printf("N=%d train=%d: %.2f ms/batch, %.0f tokens/s\n", N, train, ms, T * N / ms * 1000);

}
