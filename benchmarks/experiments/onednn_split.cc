// Issue 7 experiment: the two directions of a bidirectional LSTM (T=40, input 100, 200 units) as
// one oneDNN primitive (bidirectional_concat, every step's products split across the cores) or as
// two one-direction primitives running at once, each on a thread of its own in a one-thread TBB
// arena (what zoo.kernels does). Build and run (the zoo's venv active):
//   g++ -O2 -std=c++17 -I$VIRTUAL_ENV/include benchmarks/experiments/onednn_split.cc \
//     -L$VIRTUAL_ENV/lib -ldnnl -ltbb -Wl,--disable-new-dtags -Wl,-rpath,$VIRTUAL_ENV/lib \
//     -o /tmp/onednn_split
//   /tmp/onednn_split 32 train        # forward + backward, batch 32
//   /tmp/onednn_split 256             # inference, batch 256
//   STRIDED=1 /tmp/onednn_split 32 train   # each direction writes its half of y in place
#include <oneapi/dnnl/dnnl.hpp>
#include <oneapi/tbb/task_arena.h>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <unordered_map>
using namespace dnnl;
using tag = memory::format_tag; using dt = memory::data_type;
struct Dir {
  lstm_forward::primitive_desc fpd; lstm_backward::primitive_desc bpd;
  primitive fwd, bwd;
  memory scr, bscr, src, dst, wl, wi, b, h0, c0, hT, cT, wl2, wi2, ws, dsrc, dh0, dc0, db, ddst, dhT, dcT, dwl2, dwi2, dwl, dwi, wlb, wib;
  bool train;
  Dir(engine& eng, int T, int N, int C, int O, rnn_direction dir, bool train_, int D, memory::desc dst_user) : train(train_) {
    int G = 4;
    auto src_md = memory::desc({T, N, C}, dt::f32, tag::ntc);
    auto dst_md = dst_user;
    auto wl_any = memory::desc({1, D, C, G, O}, dt::f32, tag::any);
    auto wi_any = memory::desc({1, D, O, G, O}, dt::f32, tag::any);
    auto wl_md = memory::desc({1, D, C, G, O}, dt::f32, tag::ldigo);
    auto wi_md = memory::desc({1, D, O, G, O}, dt::f32, tag::ldigo);
    auto b_md = memory::desc({1, D, G, O}, dt::f32, tag::ldgo);
    auto st_md = memory::desc({1, D, N, O}, dt::f32, tag::ldnc);
    auto pk = train ? prop_kind::forward_training : prop_kind::forward_inference;
    primitive_attr attr; attr.set_scratchpad_mode(scratchpad_mode::user);
    fpd = lstm_forward::primitive_desc(eng, pk, dir, src_md, st_md, st_md, wl_any, wi_any, b_md, dst_md, st_md, st_md, attr);
    scr = memory(fpd.scratchpad_desc(), eng);
    src = memory(src_md, eng); dst = memory(dst_md, eng); wl = memory(wl_md, eng); wi = memory(wi_md, eng); b = memory(b_md, eng);
    h0 = memory(st_md, eng); c0 = memory(st_md, eng); hT = memory(st_md, eng); cT = memory(st_md, eng);
    wl2 = memory(fpd.weights_layer_desc(), eng); wi2 = memory(fpd.weights_iter_desc(), eng);
    float* p = (float*)src.get_data_handle(); for (size_t i = 0; i < (size_t)T*N*C; ++i) p[i] = 0.01f*(i%7);
    memset(wl.get_data_handle(), 0, wl_md.get_size()); memset(wi.get_data_handle(), 0, wi_md.get_size());
    fwd = lstm_forward(fpd);
    if (train) {
      ws = memory(fpd.workspace_desc(), eng);
      bpd = lstm_backward::primitive_desc(eng, prop_kind::backward, dir, src_md, st_md, st_md, wl_any, wi_any, b_md, dst_md, st_md, st_md,
        src_md, st_md, st_md, wl_any, wi_any, b_md, dst_md, st_md, st_md, fpd, attr);
      bscr = memory(bpd.scratchpad_desc(), eng);
      dsrc = memory(src_md, eng); dh0 = memory(st_md, eng); dc0 = memory(st_md, eng);
      db = memory(b_md, eng); ddst = memory(dst_md, eng); dhT = memory(st_md, eng); dcT = memory(st_md, eng);
      dwl2 = memory(bpd.diff_weights_layer_desc(), eng); dwi2 = memory(bpd.diff_weights_iter_desc(), eng);
      dwl = memory(wl_md, eng); dwi = memory(wi_md, eng);
      wlb = memory(bpd.weights_layer_desc(), eng); wib = memory(bpd.weights_iter_desc(), eng);
      bwd = lstm_backward(bpd);
    }
  }
  void run_fwd(stream& s) {
    reorder(wl, wl2).execute(s, wl, wl2); reorder(wi, wi2).execute(s, wi, wi2);
    std::unordered_map<int, memory> a = {{DNNL_ARG_SRC_LAYER, src}, {DNNL_ARG_SRC_ITER, h0}, {DNNL_ARG_SRC_ITER_C, c0},
      {DNNL_ARG_WEIGHTS_LAYER, wl2}, {DNNL_ARG_WEIGHTS_ITER, wi2}, {DNNL_ARG_BIAS, b}, {DNNL_ARG_DST_LAYER, dst},
      {DNNL_ARG_DST_ITER, hT}, {DNNL_ARG_DST_ITER_C, cT}};
    if (train) a[DNNL_ARG_WORKSPACE] = ws;
    a[DNNL_ARG_SCRATCHPAD] = scr;
    fwd.execute(s, a); s.wait();
  }
  void run_bwd(stream& s) {
    reorder(wl, wlb).execute(s, wl, wlb); reorder(wi, wib).execute(s, wi, wib);
    memset(dwl2.get_data_handle(), 0, bpd.diff_weights_layer_desc().get_size());
    memset(dwi2.get_data_handle(), 0, bpd.diff_weights_iter_desc().get_size());
    memset(db.get_data_handle(), 0, db.get_desc().get_size());
    bwd.execute(s, {{DNNL_ARG_SRC_LAYER, src}, {DNNL_ARG_SRC_ITER, h0}, {DNNL_ARG_SRC_ITER_C, c0},
      {DNNL_ARG_WEIGHTS_LAYER, wlb}, {DNNL_ARG_WEIGHTS_ITER, wib}, {DNNL_ARG_BIAS, b}, {DNNL_ARG_DST_LAYER, dst},
      {DNNL_ARG_DST_ITER, hT}, {DNNL_ARG_DST_ITER_C, cT}, {DNNL_ARG_WORKSPACE, ws},
      {DNNL_ARG_DIFF_SRC_LAYER, dsrc}, {DNNL_ARG_DIFF_SRC_ITER, dh0}, {DNNL_ARG_DIFF_SRC_ITER_C, dc0},
      {DNNL_ARG_DIFF_WEIGHTS_LAYER, dwl2}, {DNNL_ARG_DIFF_WEIGHTS_ITER, dwi2}, {DNNL_ARG_DIFF_BIAS, db},
      {DNNL_ARG_DIFF_DST_LAYER, ddst}, {DNNL_ARG_SCRATCHPAD, bscr}, {DNNL_ARG_DIFF_DST_ITER, dhT}, {DNNL_ARG_DIFF_DST_ITER_C, dcT}});
    reorder(dwl2, dwl).execute(s, dwl2, dwl); reorder(dwi2, dwi).execute(s, dwi2, dwi);
    s.wait();
  }
};
double now() { return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count(); }
int main(int argc, char** argv) {
  int T = 40, N = atoi(argv[1]), C = 100, O = 200;
  bool train = argc > 2 && argv[2][0] == 't';
  bool strided = getenv("STRIDED") != nullptr;
  engine eng(engine::kind::cpu, 0);
  // joint
  Dir joint(eng, T, N, C, O, rnn_direction::bidirectional_concat, train, 2, memory::desc({T, N, 2 * O}, dt::f32, tag::ntc));
  memory::desc one = strided ? memory::desc({T, N, O}, dt::f32, {2 * O, T * 2 * O, 1}) : memory::desc({T, N, O}, dt::f32, tag::ntc);
  oneapi::tbb::task_arena a1(1), a2(1);
  Dir *fp, *bp;
  a1.execute([&] { fp = new Dir(eng, T, N, C, O, rnn_direction::unidirectional_left2right, train, 1, one); });
  a2.execute([&] { bp = new Dir(eng, T, N, C, O, rnn_direction::unidirectional_right2left, train, 1, one); });
  Dir& f = *fp; Dir& b = *bp;
  stream s(eng);
  auto run_joint = [&] { joint.run_fwd(s); if (train) joint.run_bwd(s); };
  stream s1(eng), s2(eng);
  auto run_split = [&] {
    std::thread t1([&] { a1.execute([&] { f.run_fwd(s1); if (train) f.run_bwd(s1); }); });
    a2.execute([&] { b.run_fwd(s2); if (train) b.run_bwd(s2); });
    t1.join();
  };
  for (int r = 0; r < 3; ++r) {
    for (int i = 0; i < 5; ++i) run_joint();
    double t0 = now(); for (int i = 0; i < 30; ++i) run_joint(); double t1 = now();
    for (int i = 0; i < 5; ++i) run_split();
    double t2 = now(); for (int i = 0; i < 30; ++i) run_split(); double t3 = now();
    printf("N=%d train=%d joint %.2f ms  split %.2f ms\n", N, train, (t1 - t0) / 30, (t3 - t2) / 30);
  }
}
