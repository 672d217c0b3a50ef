// ZooRnn / ZooRnnGrad: a whole recurrent layer (every step, one or both directions) as one
// TensorFlow op, run by oneDNN's fused RNN primitive on the CPU.
//
// Shapes (D directions, N batch, T time, C input features, O units, G gate blocks); the
// per-direction inputs are lists of D tensors, so that a layer's own variables go in as they are:
//   x        [N, T, C]      batch-major input, read by every direction
//   h0, c0   D x [N, O]     initial states (c0: the LSTM's; other cells take empty tensors)
//   w_layer  D x [C, G*O]   input kernel, gate blocks side by side
//   w_iter   D x [O, G*O]   recurrent kernel
//   bias     D x [Gb*O]     Gb = G, or 4 for the linear-before-reset GRU
//   peephole D x [3*O]      LSTM peepholes (i, f, o), or empty tensors for none
// Outputs: y [N, T, D*O] (the directions' outputs side by side, each aligned with the input's
// steps; direction 1 reads right to left), h_n and c_n [D, N, O], and the workspace the
// backward pass needs (training only). The gate order and equations are oneDNN's (LSTM: i, f,
// c~, o as in Keras; GRU: u, r, o with h = u * h_prev + (1 - u) * o, as in Keras);
// zoo/kernels/__init__.py maps the zoo's weights.
//
// Each direction is one oneDNN primitive. The two of a bidirectional layer run at the same time,
// each on its own thread with half the cores (measured on 2 cores: 12 % faster than oneDNN's
// bidirectional primitive, which splits every step's small matrix products across both cores
// and synchronises them 2 x T times).

#include <oneapi/dnnl/dnnl.hpp>
#include <oneapi/tbb/task_arena.h>

#include <algorithm>
#include <array>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <pthread.h>
#include <xmmintrin.h>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "tensorflow/core/framework/op.h"
#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/shape_inference.h"

namespace {

using dnnl::algorithm;
using dnnl::memory;
using dnnl::prop_kind;
using dnnl::rnn_direction;
using tensorflow::OpInputList;
using tensorflow::OpKernel;
using tensorflow::OpKernelConstruction;
using tensorflow::OpKernelContext;
using tensorflow::OpOutputList;
using tensorflow::Tensor;
using tensorflow::TensorShape;
using tensorflow::errors::InvalidArgument;
using tag = memory::format_tag;
using dt = memory::data_type;
using Args = std::unordered_map<int, memory>;

dnnl::engine& cpu_engine() {
  static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

// oneDNN runs only on these threads ("lanes"), each inside its own TBB arena: lane 0 with every
// core (one-direction layers), lanes 1 and 2 with half of them each (the two directions of a
// bidirectional layer, at the same time). Were oneDNN called from TensorFlow's changing
// inter-op threads, each would get its own pool of workers, idle ones spinning against the
// working ones (measured: 4x slower on 2 cores). A caller sleeps until its job is done.
class Worker {
 public:
  explicit Worker(int threads) : threads_(threads), thread_([this] { Main(); }) {
    thread_.detach();
  }

  int threads() const { return threads_; }

  std::future<void> Submit(std::function<void()> task) {
    std::packaged_task<void()> job(std::move(task));
    auto done = job.get_future();
    {
      std::lock_guard<std::mutex> lock(mutex_);
      queue_.push_back(std::move(job));
    }
    ready_.notify_one();
    return done;
  }

 private:
  void Main() {
    // Denormals flush to zero, as in TensorFlow's own threads.
    _mm_setcsr(_mm_getcsr() | 0x8040);
    oneapi::tbb::task_arena arena(threads_);
    arena.execute([this] { Loop(); });
  }

  void Loop() {
    for (;;) {
      std::packaged_task<void()> job;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        ready_.wait(lock, [this] { return !queue_.empty(); });
        job = std::move(queue_.front());
        queue_.pop_front();
      }
      job();
    }
  }

  int threads_;
  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<std::packaged_task<void()>> queue_;
  std::thread thread_;  // last: it starts running Main() once the members above exist
};

std::array<Worker*, 3> g_lanes{};  // never destroyed: they may be busy at exit
bool g_forked = false;             // this process was forked after the kernel ran in its parent

Worker& lane(int index) {
  static std::once_flag once;
  std::call_once(once, [] {
    int all = oneapi::tbb::this_task_arena::max_concurrency();
    g_lanes[0] = new Worker(all);
    g_lanes[1] = new Worker(std::max(1, all / 2));
    g_lanes[2] = new Worker(std::max(1, all - all / 2));
    // oneDNN's TBB threads do not survive fork(): a child must not call into them.
    pthread_atfork(nullptr, nullptr, [] { g_forked = true; });
  });
  return *g_lanes[index];
}

int gates_of(const std::string& cell) {
  if (cell == "lstm") return 4;
  if (cell == "gru" || cell == "lbr_gru") return 3;
  return 1;
}

int bias_gates_of(const std::string& cell) { return cell == "lbr_gru" ? 4 : gates_of(cell); }

// One direction's primitive, with the memory descriptors of the user's tensors. Its output is
// a slice of y: O of y's `width` channels per step.
struct Problem {
  std::string cell;
  bool peephole, reverse;
  bool single_thread = false;  // run on a lane of one thread
  bool bf16 = false;           // ZooRnn's precision="bfloat16" (the LSTM loop's inference)
  int64_t N, T, C, O, G, Gb, width;
  memory::desc src, dst, state, w_layer, w_iter, bias, w_peephole;
  memory::desc w_layer_any, w_iter_any;

  Problem(const std::string& cell_, bool peephole_, bool reverse_, int64_t N_, int64_t T_,
          int64_t C_, int64_t O_, int64_t width_)
      : cell(cell_), peephole(peephole_), reverse(reverse_), N(N_), T(T_), C(C_), O(O_),
        width(width_) {
    G = gates_of(cell);
    Gb = bias_gates_of(cell);
    src = memory::desc({T, N, C}, dt::f32, tag::ntc);
    dst = memory::desc({T, N, O}, dt::f32, memory::dims{width, T * width, 1});
    state = memory::desc({1, 1, N, O}, dt::f32, tag::ldnc);
    w_layer = memory::desc({1, 1, C, G, O}, dt::f32, tag::ldigo);
    w_iter = memory::desc({1, 1, O, G, O}, dt::f32, tag::ldigo);
    bias = memory::desc({1, 1, Gb, O}, dt::f32, tag::ldgo);
    w_peephole = memory::desc({1, 1, 3, O}, dt::f32, tag::ldgo);
    w_layer_any = memory::desc({1, 1, C, G, O}, dt::f32, tag::any);
    w_iter_any = memory::desc({1, 1, O, G, O}, dt::f32, tag::any);
  }

  std::string key(const std::string& kind) const {
    return cell + (peephole ? "+p" : "") + (reverse ? "/r2l/" : "/l2r/") + kind + "/" +
           std::to_string(N) + "," + std::to_string(T) + "," + std::to_string(C) + "," +
           std::to_string(O) + "," + std::to_string(width);
  }

  rnn_direction direction() const {
    return reverse ? rnn_direction::unidirectional_right2left
                   : rnn_direction::unidirectional_left2right;
  }

  bool lstm() const { return cell == "lstm"; }

  algorithm activation() const {
    return cell == "rnn_relu" ? algorithm::eltwise_relu : algorithm::eltwise_tanh;
  }

  dnnl::primitive_desc forward(prop_kind kind) const {
    auto& e = cpu_engine();
    auto dir = direction();
    if (lstm() && peephole)
      return dnnl::lstm_forward::primitive_desc(e, kind, dir, src, state, state, w_layer_any,
                                                w_iter_any, w_peephole, bias, dst, state, state);
    if (lstm())
      return dnnl::lstm_forward::primitive_desc(e, kind, dir, src, state, state, w_layer_any,
                                                w_iter_any, bias, dst, state, state);
    if (cell == "gru")
      return dnnl::gru_forward::primitive_desc(e, kind, dir, src, state, w_layer_any, w_iter_any,
                                               bias, dst, state);
    if (cell == "lbr_gru")
      return dnnl::lbr_gru_forward::primitive_desc(e, kind, dir, src, state, w_layer_any,
                                                   w_iter_any, bias, dst, state);
    return dnnl::vanilla_rnn_forward::primitive_desc(e, kind, activation(), dir, src, state,
                                                     w_layer_any, w_iter_any, bias, dst, state);
  }

  dnnl::primitive_desc backward() const {
    auto& e = cpu_engine();
    auto dir = direction();
    auto kind = prop_kind::backward;
    auto hint = forward(prop_kind::forward_training);
    if (lstm() && peephole)
      return dnnl::lstm_backward::primitive_desc(
          e, kind, dir, src, state, state, w_layer_any, w_iter_any, w_peephole, bias, dst, state,
          state, src, state, state, w_layer_any, w_iter_any, w_peephole, bias, dst, state, state,
          dnnl::lstm_forward::primitive_desc(hint.get()));
    if (lstm())
      return dnnl::lstm_backward::primitive_desc(
          e, kind, dir, src, state, state, w_layer_any, w_iter_any, bias, dst, state, state, src,
          state, state, w_layer_any, w_iter_any, bias, dst, state, state,
          dnnl::lstm_forward::primitive_desc(hint.get()));
    if (cell == "gru")
      return dnnl::gru_backward::primitive_desc(
          e, kind, dir, src, state, w_layer_any, w_iter_any, bias, dst, state, src, state,
          w_layer_any, w_iter_any, bias, dst, state, dnnl::gru_forward::primitive_desc(hint.get()));
    if (cell == "lbr_gru")
      return dnnl::lbr_gru_backward::primitive_desc(
          e, kind, dir, src, state, w_layer_any, w_iter_any, bias, dst, state, src, state,
          w_layer_any, w_iter_any, bias, dst, state,
          dnnl::lbr_gru_forward::primitive_desc(hint.get()));
    return dnnl::vanilla_rnn_backward::primitive_desc(
        e, kind, activation(), dir, src, state, w_layer_any, w_iter_any, bias, dst, state, src,
        state, w_layer_any, w_iter_any, bias, dst, state,
        dnnl::vanilla_rnn_forward::primitive_desc(hint.get()));
  }
};

// Primitives stay alive between calls: creating one costs its descriptor and JIT lookup, and
// destroying it releases its scratchpad (tens of MB at batch 256), which the next call would
// page-fault back in. One cache per lane: a primitive is made and run on the same thread (its
// scratchpad is that thread's), and no lock is needed.
struct Compiled {
  dnnl::primitive_desc pd;
  dnnl::primitive primitive;
};

Compiled& compiled(const Problem& p, const std::string& kind) {
  thread_local std::unordered_map<std::string, Compiled> cache;
  std::string key = p.key(kind);
  auto found = cache.find(key);
  if (found != cache.end()) return found->second;
  if (cache.size() >= 64) cache.clear();  // many shapes (bucketed lengths): start over
  dnnl::primitive_desc pd;
  if (kind == "backward")
    pd = p.backward();
  else
    pd = p.forward(kind == "training" ? prop_kind::forward_training
                                      : prop_kind::forward_inference);
  Compiled entry{pd, dnnl::primitive(pd)};
  return cache.emplace(key, std::move(entry)).first->second;
}

// The workspace one direction's training forward leaves for its backward pass, in bytes; asked
// by the op's own thread before it allocates its outputs (so the lanes never allocate).
bool own_loop(const Problem& p);
namespace own {
int64_t workspace_bytes(int64_t N, int64_t T, int64_t O);
}

int64_t workspace_bytes(const Problem& p) {
  if (own_loop(p)) return own::workspace_bytes(p.N, p.T, p.O);
  static std::mutex mutex;
  static std::unordered_map<std::string, int64_t> sizes;
  std::string key = p.key("training");
  {
    std::lock_guard<std::mutex> lock(mutex);
    auto found = sizes.find(key);
    if (found != sizes.end()) return found->second;
  }
  auto pd = p.forward(prop_kind::forward_training);
  int64_t size = pd.query_md(dnnl::query::workspace_md).get_size();
  size = (size + 63) / 64 * 64;  // the next direction's part starts aligned
  std::lock_guard<std::mutex> lock(mutex);
  if (sizes.size() >= 256) sizes.clear();
  sizes[key] = size;
  return size;
}

// Scratch memory of the calling lane for weights in the layouts a primitive wants; kept and
// grown, never returned, so that calls after the first touch no fresh pages.
void* lane_buffer(int slot, size_t bytes) {
  struct Buffer {
    void* data = nullptr;
    size_t size = 0;
  };
  thread_local std::array<Buffer, 5> buffers;
  Buffer& b = buffers[slot];
  if (b.size < bytes) {
    std::free(b.data);
    b.data = std::aligned_alloc(64, (bytes + 63) / 64 * 64);
    if (b.data == nullptr) throw std::runtime_error("out of memory for weights in oneDNN's layout");
    b.size = bytes;
  }
  return b.data;
}

// A memory over the user's tensor; when the primitive wants another layout, lane memory in
// that layout, filled by a reorder (inputs) or copied back by `write_back` (outputs).
struct Bound {
  memory user, inner;
  bool reordered = false;
};

Bound bind_memory(const memory::desc& user_md, const memory::desc& want, void* ptr, bool input,
                  int slot, dnnl::stream& stream) {
  auto& e = cpu_engine();
  Bound b;
  b.user = memory(user_md, e, ptr);
  if (want == user_md || want.is_zero()) {
    b.inner = b.user;
    return b;
  }
  b.inner = memory(want, e, lane_buffer(slot, want.get_size()));
  b.reordered = true;
  if (input) dnnl::reorder(b.user, b.inner).execute(stream, b.user, b.inner);
  return b;
}

void write_back(Bound& b, dnnl::stream& stream) {
  if (b.reordered) dnnl::reorder(b.inner, b.user).execute(stream, b.inner, b.user);
}

// Where one direction's data lies: the inputs both ops read, then each op's own.
struct Pointers {
  float *x, *h0, *c0, *w_layer, *w_iter, *bias, *peephole;
  float *y, *h_n, *c_n;  // ZooRnn's outputs (ZooRnnGrad: its inputs)
  void* workspace;
  float *dy, *dh_n, *dc_n;                                    // ZooRnnGrad's inputs
  float *dx, *dh0, *dc0, *dw_layer, *dw_iter, *dbias, *dpeephole;  // and outputs
};

// === The zoo's own LSTM loop (no peepholes) ===
//
// oneDNN's RNN primitive reaches about 130 GFLOP/s per core here, while its plain GEMM
// (dnnl_sgemm) reaches 200-230 on the same products; so the LSTM runs as GEMMs with the gate
// arithmetic between them: per step the input projection, the product with the recurrent kernel
// and the gates. The backward pass computes the weights' gradients as GEMMs over all steps after
// its loop, and leaves out dx when TensorFlow says nothing needs it (the layer reads the model's
// input).
//
// Layout: every per-step matrix is batch-major like x, rows (n, t): gates [N, T, 4O] (the
// workspace keeps them activated: i, f, c~, o), cells [N, T, O]; one step's rows are then
// strided by T rows, which GEMM takes as its leading dimension.
namespace own {

inline float exp_(float x) {  // Cephes' expf: 1-2 ulp, and vectorizable (no branches, no calls)
  x = x > 88.3762626647949f ? 88.3762626647949f : x;
  x = x < -87.3365447504f ? -87.3365447504f : x;
  float n = __builtin_floorf(x * 1.44269504088896341f + 0.5f);
  float r = x - n * 0.693359375f + n * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  int32_t bits = (static_cast<int32_t>(n) + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, sizeof scale);
  return p * scale;
}

inline float sigmoid_(float x) { return 1.0f / (1.0f + exp_(-x)); }

// 1 - 2 / (e^2x + 1); the odd Taylor terms near 0, where that cancels
inline float tanh_(float x) {
  float e = exp_(2.0f * x);
  float big = 1.0f - 2.0f / (e + 1.0f);
  float x2 = x * x;
  float small = x * (1.0f + x2 * (-0.333333333f + x2 * (0.133333333f + x2 * -0.053968254f)));
  return (x2 < 0.0036f) ? small : big;
}

void gemm(char ta, char tb, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda,
          const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  auto status = dnnl_sgemm(ta, tb, M, N, K, 1.0f, A, lda, B, ldb, beta, C, ldc);
  if (status != dnnl_success) throw std::runtime_error("dnnl_sgemm failed");
}

// One step's product with the recurrent kernel as a oneDNN matmul whose weights are packed once
// per call (dnnl_sgemm packs them again on every call: 50 % slower per step). Forward:
// z (rows ldz apart) += h_prev (rows ldh apart) U; backward: dh = dG (rows ldg apart) U^T.
struct StepProduct {
  dnnl::matmul primitive;
  memory::desc src, weights, packed, dst;
};

StepProduct& step_product(bool backward, int64_t N, int64_t O, int64_t G4, int64_t ld_src,
                          int64_t ld_dst) {
  thread_local std::unordered_map<std::string, StepProduct> cache;
  std::string key = std::to_string(backward) + "/" + std::to_string(N) + "," +
                    std::to_string(O) + "," + std::to_string(G4) + "," + std::to_string(ld_src) +
                    "," + std::to_string(ld_dst);
  auto found = cache.find(key);
  if (found != cache.end()) return found->second;
  if (cache.size() >= 64) cache.clear();
  const int64_t K = backward ? G4 : O, M = backward ? O : G4;
  StepProduct p;
  p.src = memory::desc({N, K}, dt::f32, memory::dims{ld_src, 1});
  p.weights = memory::desc({K, M}, dt::f32, backward ? tag::ba : tag::ab);
  p.dst = memory::desc({N, M}, dt::f32, memory::dims{ld_dst, 1});
  dnnl::primitive_attr attr;
  if (!backward) {
    dnnl::post_ops sum;
    sum.append_sum(1.0f);
    attr.set_post_ops(sum);
  }
  auto pd = dnnl::matmul::primitive_desc(cpu_engine(), p.src,
                                         memory::desc({K, M}, dt::f32, tag::any), p.dst, attr);
  p.packed = pd.weights_desc();
  p.primitive = dnnl::matmul(pd);
  return cache.emplace(key, std::move(p)).first->second;
}

// The recurrent kernel packed for `product`, in lane memory `slot`.
memory pack(StepProduct& product, const float* w_iter, int slot, dnnl::stream& stream) {
  auto& e = cpu_engine();
  memory user(product.weights, e, const_cast<float*>(w_iter));
  memory packed(product.packed, e, lane_buffer(slot, product.packed.get_size()));
  dnnl::reorder(user, packed).execute(stream, user, packed);
  return packed;
}

void step(StepProduct& product, const memory& packed, const float* src, float* dst,
          dnnl::stream& stream) {
  auto& e = cpu_engine();
  memory a(product.src, e, const_cast<float*>(src)), c(product.dst, e, dst);
  product.primitive.execute(stream,
                            {{DNNL_ARG_SRC, a}, {DNNL_ARG_WEIGHTS, packed}, {DNNL_ARG_DST, c}});
}

// bfloat16 inference (ZooRnn's precision="bfloat16"): each step one product
// [x_t, h_prev] [W; U] of bfloat16 operands (rounded to nearest even) accumulated in float32;
// the gates and cells stay float32. Null where oneDNN has no bfloat16 matmul for this CPU.
struct Bf16Product {
  dnnl::matmul primitive;
  memory::desc src, packed, dst;
};

Bf16Product* bf16_product(int64_t N, int64_t K, int64_t G4) {
  thread_local std::unordered_map<std::string, std::unique_ptr<Bf16Product>> cache;
  std::string key = std::to_string(N) + "," + std::to_string(K) + "," + std::to_string(G4);
  auto found = cache.find(key);
  if (found != cache.end()) return found->second.get();
  if (cache.size() >= 64) cache.clear();
  std::unique_ptr<Bf16Product> p(new Bf16Product);
  try {
    p->src = memory::desc({N, K}, dt::bf16, tag::ab);
    p->dst = memory::desc({N, G4}, dt::f32, tag::ab);
    auto pd = dnnl::matmul::primitive_desc(
        cpu_engine(), p->src, memory::desc({K, G4}, dt::bf16, tag::any), p->dst);
    p->packed = pd.weights_desc();
    p->primitive = dnnl::matmul(pd);
  } catch (const dnnl::error&) {
    p.reset();
  }
  return cache.emplace(key, std::move(p)).first->second.get();
}

// float32 -> bfloat16, rounded to nearest even (NaN stays NaN).
inline void to_bf16(const float* from, uint16_t* to, int64_t n) {
#pragma GCC ivdep
  for (int64_t i = 0; i < n; ++i) {
    uint32_t bits;
    std::memcpy(&bits, from + i, sizeof(bits));
    uint32_t rounded = (bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16;
    to[i] = (bits & 0x7fffffffu) > 0x7f800000u ? static_cast<uint16_t>((bits >> 16) | 0x40u)
                                                 : static_cast<uint16_t>(rounded);
  }
}

int64_t workspace_bytes(int64_t N, int64_t T, int64_t O) {
  return (N * T * 5 * O * static_cast<int64_t>(sizeof(float)) + 63) / 64 * 64;
}

struct Lstm {
  int64_t N, T, C, O, width;
  bool reverse;

  int64_t step(int64_t k) const { return reverse ? T - 1 - k : k; }  // the k-th step read
  int64_t G() const { return 4 * O; }

  // Gates of step k from z (the input projection, bias not yet added, plus h_prev U) into
  // activations; c and h (into y) from them. c_prev/c_out: rows of O with the given stride.
  void gates(float* z, int64_t ldz, const float* bias, const float* c_prev, int64_t ldc_prev,
             float* c_out, int64_t ldc_out, float* y, int64_t ldy) const {
    for (int64_t n = 0; n < N; ++n) {
      float* zi = z + n * ldz;
      float *zf = zi + O, *zg = zi + 2 * O, *zo = zi + 3 * O;
      const float* cp = c_prev + n * ldc_prev;
      float* co = c_out + n * ldc_out;
      float* h = y + n * ldy;
#pragma GCC ivdep
      for (int64_t j = 0; j < O; ++j) {
        float i = sigmoid_(zi[j] + bias[j]);
        float f = sigmoid_(zf[j] + bias[O + j]);
        float g = tanh_(zg[j] + bias[2 * O + j]);
        float o = sigmoid_(zo[j] + bias[3 * O + j]);
        float c = f * cp[j] + i * g;
        zi[j] = i;
        zf[j] = f;
        zg[j] = g;
        zo[j] = o;
        co[j] = c;
        h[j] = o * tanh_(c);
      }
    }
  }

  // Training keeps every step's gates and cells in `workspace`; inference one step's gates and
  // the cells in `scratch` (lane memory, N * (4O + O) floats). Each step's input projection is
  // its own product, written where that step's gates go: at batch 256 one product for all steps
  // filled 33 MB per direction that each step then read back from memory (8-10 % slower).
  void forward(const Pointers& at, bool training, float* scratch) const {
    const int64_t G4 = G(), rows = N * T;
    float* gates_all = training ? static_cast<float*>(at.workspace) : scratch;
    float* cells = gates_all + (training ? rows : N) * G4;  // [N, T, O] or [N, O]
    const int64_t ldz = training ? T * G4 : G4;
    if (!training) std::memcpy(cells, at.c0, N * O * sizeof(float));
    dnnl::stream stream(cpu_engine());
    auto& product = step_product(false, N, O, G4, T * width, ldz);
    memory packed = pack(product, at.w_iter, 0, stream);
    for (int64_t k = 0; k < T; ++k) {
      const int64_t t = step(k), prev = reverse ? t + 1 : t - 1;
      float* z = gates_all + (training ? t * G4 : 0);
      gemm('N', 'N', N, G4, C, at.x + t * C, T * C, at.w_layer, G4, 0.0f, z, ldz);
      if (k == 0)
        gemm('N', 'N', N, G4, O, at.h0, O, at.w_iter, G4, 1.0f, z, ldz);
      else
        own::step(product, packed, at.y + prev * width, z, stream);
      const float* c_prev = training ? (k == 0 ? at.c0 : cells + prev * O) : cells;
      int64_t ld_prev = training && k > 0 ? T * O : O;
      float* c_out = training ? cells + t * O : cells;
      gates(z, ldz, at.bias, c_prev, ld_prev, c_out, training ? T * O : O, at.y + t * width,
            T * width);
    }
    finals(at, training ? cells + step(T - 1) * O : cells, training ? T * O : O);
  }

  // h_n and c_n: the last step's outputs, and its cells (rows `ldc` apart from `c_last`).
  void finals(const Pointers& at, const float* c_last, int64_t ldc) const {
    const int64_t last = step(T - 1);
    for (int64_t n = 0; n < N; ++n) {
      std::memcpy(at.h_n + n * O, at.y + (n * T + last) * width, O * sizeof(float));
      std::memcpy(at.c_n + n * O, c_last + n * ldc, O * sizeof(float));
    }
  }

  // Inference with bfloat16 products (see Bf16Product); false, having done nothing, where
  // oneDNN has none for this CPU. `scratch` as for forward(at, false, scratch).
  bool forward_bf16(const Pointers& at, float* scratch) const {
    const int64_t G4 = G(), K = C + O;
    Bf16Product* product = bf16_product(N, K, G4);
    if (product == nullptr) return false;
    auto& e = cpu_engine();
    dnnl::stream stream(e);
    // [W; U] in float32, then packed as the product wants it, in bfloat16
    float* joint = static_cast<float*>(lane_buffer(1, K * G4 * sizeof(float)));
    std::memcpy(joint, at.w_layer, C * G4 * sizeof(float));
    std::memcpy(joint + C * G4, at.w_iter, O * G4 * sizeof(float));
    memory user(memory::desc({K, G4}, dt::f32, tag::ab), e, joint);
    memory packed(product->packed, e, lane_buffer(0, product->packed.get_size()));
    dnnl::reorder(user, packed).execute(stream, user, packed);
    auto* src = static_cast<uint16_t*>(lane_buffer(2, N * K * sizeof(uint16_t)));
    float* z = scratch;
    float* cells = scratch + N * G4;
    std::memcpy(cells, at.c0, N * O * sizeof(float));
    memory a(product->src, e, src), c(product->dst, e, z);
    for (int64_t k = 0; k < T; ++k) {
      const int64_t t = step(k), prev = reverse ? t + 1 : t - 1;
      const float* h = k == 0 ? at.h0 : at.y + prev * width;
      const int64_t ldh = k == 0 ? O : T * width;
      for (int64_t n = 0; n < N; ++n) {
        to_bf16(at.x + (n * T + t) * C, src + n * K, C);
        to_bf16(h + n * ldh, src + n * K + C, O);
      }
      product->primitive.execute(stream, {{DNNL_ARG_SRC, a}, {DNNL_ARG_WEIGHTS, packed},
                                          {DNNL_ARG_DST, c}});
      gates(z, G4, at.bias, cells, O, cells, O, at.y + t * width, T * width);
    }
    finals(at, cells, O);
    return true;
  }

  // dG and the shifted outputs live in lane memory: `scratch` holds N*T*(4O + O) + 2*N*O floats.
  void backward(const Pointers& at, bool input_gradient, float* scratch) const {
    const int64_t G4 = G(), rows = N * T;
    const float* gates_all = static_cast<const float*>(at.workspace);
    const float* cells = gates_all + rows * G4;
    float* dG = scratch;
    float* h_prev = dG + rows * G4;  // [N, T, O]: the h each step read
    float* dh = h_prev + rows * O;   // [N, O]: dL/dh_prev carried back, then dh0
    float* dc = dh + N * O;          // [N, O]: dL/dc carried back, then dc0
    std::memcpy(dh, at.dh_n, N * O * sizeof(float));
    std::memcpy(dc, at.dc_n, N * O * sizeof(float));
    dnnl::stream stream(cpu_engine());
    auto& product = step_product(true, N, O, G4, T * G4, O);
    memory packed = pack(product, at.w_iter, 0, stream);
    for (int64_t k = T - 1; k >= 0; --k) {
      const int64_t t = step(k), prev = reverse ? t + 1 : t - 1;
      for (int64_t n = 0; n < N; ++n) {
        const float* g4 = gates_all + (n * T + t) * G4;
        const float *gi = g4, *gf = g4 + O, *gg = g4 + 2 * O, *go = g4 + 3 * O;
        const float* c = cells + (n * T + t) * O;
        const float* cp = k == 0 ? at.c0 + n * O : cells + (n * T + prev) * O;
        const float* dy = at.dy + (n * T + t) * width;
        float* d4 = dG + (n * T + t) * G4;
        float *dhn = dh + n * O, *dcn = dc + n * O;
#pragma GCC ivdep
        for (int64_t j = 0; j < O; ++j) {
          float i = gi[j], f = gf[j], g = gg[j], o = go[j];
          float tc = tanh_(c[j]);
          float dh_ = dy[j] + dhn[j];
          float dc_ = dcn[j] + dh_ * o * (1.0f - tc * tc);
          d4[j] = dc_ * g * i * (1.0f - i);
          d4[O + j] = dc_ * cp[j] * f * (1.0f - f);
          d4[2 * O + j] = dc_ * i * (1.0f - g * g);
          d4[3 * O + j] = dh_ * tc * o * (1.0f - o);
          dcn[j] = dc_ * f;
        }
      }
      // dL/dh_prev = dG_t U^T
      own::step(product, packed, dG + t * G4, dh, stream);
    }
    std::memcpy(at.dh0, dh, N * O * sizeof(float));
    std::memcpy(at.dc0, dc, N * O * sizeof(float));
    for (int64_t n = 0; n < N; ++n)
      for (int64_t k = 0; k < T; ++k) {
        const int64_t t = step(k), prev = reverse ? t + 1 : t - 1;
        const float* src = k == 0 ? at.h0 + n * O : at.y + (n * T + prev) * width;
        std::memcpy(h_prev + (n * T + t) * O, src, O * sizeof(float));
      }
    gemm('T', 'N', O, G4, rows, h_prev, O, dG, G4, 0.0f, at.dw_iter, G4);
    gemm('T', 'N', C, G4, rows, at.x, C, dG, G4, 0.0f, at.dw_layer, G4);
    std::memset(at.dbias, 0, G4 * sizeof(float));
    for (int64_t r = 0; r < rows; ++r) {
      const float* d4 = dG + r * G4;
#pragma GCC ivdep
      for (int64_t j = 0; j < G4; ++j) at.dbias[j] += d4[j];
    }
    if (input_gradient) gemm('N', 'T', rows, C, G4, dG, G4, at.w_layer, G4, 0.0f, at.dx, C);
  }
};

}  // namespace own

Args input_args(const Problem& p, const dnnl::primitive_desc& pd, const Pointers& at,
                dnnl::stream& stream) {
  auto& e = cpu_engine();
  auto wl = bind_memory(p.w_layer, pd.weights_desc(0), at.w_layer, true, 0, stream);
  auto wi = bind_memory(p.w_iter, pd.weights_desc(1), at.w_iter, true, 1, stream);
  Args args = {
      {DNNL_ARG_SRC_LAYER, memory(p.src, e, at.x)},
      {DNNL_ARG_SRC_ITER, memory(p.state, e, at.h0)},
      {DNNL_ARG_WEIGHTS_LAYER, wl.inner},
      {DNNL_ARG_WEIGHTS_ITER, wi.inner},
      {DNNL_ARG_BIAS, memory(p.bias, e, at.bias)},
  };
  if (p.lstm()) args[DNNL_ARG_SRC_ITER_C] = memory(p.state, e, at.c0);
  if (p.peephole) args[DNNL_ARG_WEIGHTS_PEEPHOLE] = memory(p.w_peephole, e, at.peephole);
  return args;
}

// The zoo's own loop runs the LSTM without peepholes on one-thread lanes
// (ZOO_KERNELS_ENGINE=onednn: oneDNN's RNN primitive, as every other cell).
bool own_loop(const Problem& p) {
  static const bool onednn_only = [] {
    const char* engine = std::getenv("ZOO_KERNELS_ENGINE");
    return engine != nullptr && std::string(engine) == "onednn";
  }();
  // A single-threaded design: on a lane of several threads oneDNN's primitive, which spreads
  // each step across them, was faster (a masked BiLSTM-200 training step: 15.2 vs 18.4 ms).
  return p.lstm() && !p.peephole && p.single_thread && !onednn_only;
}

own::Lstm own_lstm(const Problem& p) { return own::Lstm{p.N, p.T, p.C, p.O, p.width, p.reverse}; }

void run_forward(const Problem& p, bool training, const Pointers& at) {
  if (own_loop(p)) {
    float* scratch = nullptr;
    if (!training)
      scratch = static_cast<float*>(lane_buffer(4, p.N * 5 * p.O * sizeof(float)));
    if (!training && p.bf16 && own_lstm(p).forward_bf16(at, scratch)) return;
    own_lstm(p).forward(at, training, scratch);
    return;
  }
  auto& job = compiled(p, training ? "training" : "inference");
  auto& e = cpu_engine();
  dnnl::stream stream(e);
  Args args = input_args(p, job.pd, at, stream);
  args[DNNL_ARG_DST_LAYER] = memory(p.dst, e, at.y);
  args[DNNL_ARG_DST_ITER] = memory(p.state, e, at.h_n);
  if (p.lstm()) args[DNNL_ARG_DST_ITER_C] = memory(p.state, e, at.c_n);
  if (training)
    args[DNNL_ARG_WORKSPACE] =
        memory(job.pd.query_md(dnnl::query::workspace_md), e, at.workspace);
  job.primitive.execute(stream, args);
  stream.wait();
}

void zero(const memory& m) { std::memset(m.get_data_handle(), 0, m.get_desc().get_size()); }

void run_backward(const Problem& p, const Pointers& at, bool input_gradient) {
  if (own_loop(p)) {
    auto* scratch = static_cast<float*>(
        lane_buffer(4, (p.N * p.T * 5 * p.O + 2 * p.N * p.O) * sizeof(float)));
    own_lstm(p).backward(at, input_gradient, scratch);
    return;
  }
  auto& job = compiled(p, "backward");
  auto& pd = job.pd;
  auto& e = cpu_engine();
  dnnl::stream stream(e);
  Args args = input_args(p, pd, at, stream);
  auto dwl = bind_memory(p.w_layer, pd.diff_weights_desc(0), at.dw_layer, false, 2, stream);
  auto dwi = bind_memory(p.w_iter, pd.diff_weights_desc(1), at.dw_iter, false, 3, stream);
  memory dbias(p.bias, e, at.dbias);
  // The primitive adds to the weights' gradients.
  zero(dwl.inner);
  zero(dwi.inner);
  zero(dbias);
  args[DNNL_ARG_DST_LAYER] = memory(p.dst, e, at.y);
  args[DNNL_ARG_DST_ITER] = memory(p.state, e, at.h_n);
  args[DNNL_ARG_WORKSPACE] = memory(pd.query_md(dnnl::query::workspace_md), e, at.workspace);
  args[DNNL_ARG_DIFF_DST_LAYER] = memory(p.dst, e, at.dy);
  args[DNNL_ARG_DIFF_DST_ITER] = memory(p.state, e, at.dh_n);
  args[DNNL_ARG_DIFF_SRC_LAYER] = memory(p.src, e, at.dx);
  args[DNNL_ARG_DIFF_SRC_ITER] = memory(p.state, e, at.dh0);
  args[DNNL_ARG_DIFF_WEIGHTS_LAYER] = dwl.inner;
  args[DNNL_ARG_DIFF_WEIGHTS_ITER] = dwi.inner;
  args[DNNL_ARG_DIFF_BIAS] = dbias;
  if (p.lstm()) {
    args[DNNL_ARG_DST_ITER_C] = memory(p.state, e, at.c_n);
    args[DNNL_ARG_DIFF_DST_ITER_C] = memory(p.state, e, at.dc_n);
    args[DNNL_ARG_DIFF_SRC_ITER_C] = memory(p.state, e, at.dc0);
  }
  if (p.peephole) {
    memory dpeep(p.w_peephole, e, at.dpeephole);
    zero(dpeep);
    args[DNNL_ARG_DIFF_WEIGHTS_PEEPHOLE] = dpeep;
  }
  job.primitive.execute(stream, args);
  write_back(dwl, stream);
  write_back(dwi, stream);
  stream.wait();
}

float* data(const Tensor& t) { return const_cast<float*>(t.flat<float>().data()); }

// What both ops share: the fork check, the inputs (x, then the lists h0, c0, w_layer, w_iter,
// bias and peephole) checked and read, the directions handed to the lanes, oneDNN's errors as
// the op's.
class RnnKernel : public OpKernel {
 public:
  explicit RnnKernel(OpKernelConstruction* ctx) : OpKernel(ctx) {
    OP_REQUIRES_OK(ctx, ctx->GetAttr("cell", &cell_));
  }

  void Compute(OpKernelContext* ctx) override {
    OP_REQUIRES(ctx, !g_forked,
                tensorflow::errors::FailedPrecondition(
                    "zoo.kernels: this process was forked after the kernel ran in its parent, "
                    "and oneDNN's threads do not survive fork(); run the layer in the parent, "
                    "or start the child with multiprocessing's 'spawn' method"));
    Inputs in;
    read_inputs(ctx, &in);
    if (!ctx->status().ok()) return;
    try {
      ComputeWith(ctx, in);
    } catch (const dnnl::error& err) {
      ctx->CtxFailure(tensorflow::errors::Internal("oneDNN: ", err.what()));
    } catch (const std::exception& err) {
      ctx->CtxFailure(tensorflow::errors::ResourceExhausted("zoo.kernels: ", err.what()));
    }
  }

 protected:
  // x: one tensor that both directions read (the second right to left), or one per direction,
  // each read left to right (the caller reversed what needs reversing).
  struct Inputs {
    OpInputList x, h0, c0, w_layer, w_iter, bias, peephole;
    int64_t X, D, N, T, C, O;
    bool peephole_on;
  };

  virtual void ComputeWith(OpKernelContext* ctx, const Inputs& in) = 0;

  bool lstm() const { return cell_ == "lstm"; }

  bool bf16_ = false;  // ZooRnn's precision attribute is "bfloat16"

  Problem problem(const Inputs& in, int d) const {
    Problem p(cell_, in.peephole_on, in.X == 1 && d == 1, in.N, in.T, in.C, in.O, in.D * in.O);
    p.single_thread = lane(in.D == 1 ? 0 : 1 + d).threads() == 1;
    p.bf16 = bf16_;
    return p;
  }

  // Byte offsets of each direction's part of the workspace; the last is its size.
  std::array<int64_t, 3> workspace_offsets(const Inputs& in) const {
    std::array<int64_t, 3> offsets{0, 0, 0};
    for (int d = 0; d < in.D; ++d) offsets[d + 1] = offsets[d] + workspace_bytes(problem(in, d));
    return offsets;
  }

  // Direction d's inputs, and its parts of y, h_n, c_n and the workspace (ZooRnn's outputs,
  // ZooRnnGrad's inputs); the rest of `Pointers` is the grad op's to fill.
  Pointers direction_at(const Inputs& in, int d, float* y, float* h_n, float* c_n,
                        tensorflow::uint8* workspace, const std::array<int64_t, 3>& offsets) const {
    const int64_t N = in.N, O = in.O;
    Pointers at{};
    at.x = data(in.x[in.X == 1 ? 0 : d]);
    at.h0 = data(in.h0[d]);
    at.c0 = lstm() ? data(in.c0[d]) : nullptr;
    at.w_layer = data(in.w_layer[d]);
    at.w_iter = data(in.w_iter[d]);
    at.bias = data(in.bias[d]);
    at.peephole = in.peephole_on ? data(in.peephole[d]) : nullptr;
    at.y = y + d * O;
    at.h_n = h_n + d * N * O;
    at.c_n = lstm() ? c_n + d * N * O : nullptr;
    at.workspace = workspace + offsets[d];
    return at;
  }

  // job(d) for every direction: on lane 0 for one, on lanes 1 and 2 at once for two.
  void run_directions(int64_t D, const std::function<void(int)>& job) {
    std::string errors[2];
    auto guarded = [&](int d) {
      return [&, d] {
        try {
          job(d);
        } catch (const std::exception& err) {
          errors[d] = err.what();
        }
      };
    };
    if (D == 1) {
      lane(0).Submit(guarded(0)).get();
    } else {
      auto first = lane(1).Submit(guarded(0));
      auto second = lane(2).Submit(guarded(1));
      first.get();
      second.get();
    }
    for (const auto& error : errors)
      if (!error.empty()) throw std::runtime_error(error);
  }

  std::string cell_;

 private:
  void read_inputs(OpKernelContext* ctx, Inputs* in) {
    const std::initializer_list<std::pair<const char*, OpInputList*>> lists = {
        {"x", &in->x},           {"h0", &in->h0},     {"c0", &in->c0},
        {"w_layer", &in->w_layer}, {"w_iter", &in->w_iter}, {"bias", &in->bias},
        {"peephole", &in->peephole}};
    for (const auto& [name, list] : lists) OP_REQUIRES_OK(ctx, ctx->input_list(name, list));
    const Tensor& x = in->x[0];
    OP_REQUIRES(ctx, x.dims() == 3, InvalidArgument("x must be [batch, time, features]"));
    in->X = in->x.size();
    OP_REQUIRES(ctx, in->X == 1 || in->X == in->h0.size(),
                InvalidArgument("one x, or one per direction"));
    OP_REQUIRES(ctx, in->X == 1 || in->x[1].shape() == x.shape(),
                InvalidArgument("every direction's x must have the same shape"));
    in->N = x.dim_size(0);
    in->T = x.dim_size(1);
    in->C = x.dim_size(2);
    in->D = in->h0.size();
    OP_REQUIRES(ctx, in->D == 1 || in->D == 2, InvalidArgument("1 or 2 directions"));
    OP_REQUIRES(ctx, in->h0[0].dims() == 2, InvalidArgument("h0 must be [batch, units]"));
    in->O = in->h0[0].dim_size(1);
    OP_REQUIRES(ctx, in->T > 0 && in->N > 0, InvalidArgument("empty batch or sequence"));
    const int64_t G = gates_of(cell_), Gb = bias_gates_of(cell_), N = in->N, O = in->O;
    in->peephole_on = in->peephole[0].NumElements() > 0;
    OP_REQUIRES(ctx, !in->peephole_on || lstm(), InvalidArgument("peepholes are the LSTM's"));
    for (int d = 0; d < in->D; ++d) {
      const Tensor &h0 = in->h0[d], &w_layer = in->w_layer[d], &w_iter = in->w_iter[d];
      OP_REQUIRES(ctx, h0.dims() == 2 && h0.dim_size(0) == N && h0.dim_size(1) == O,
                  InvalidArgument("h0 must be [batch, units] for every direction"));
      OP_REQUIRES(ctx, !lstm() || in->c0[d].shape() == h0.shape(),
                  InvalidArgument("c0 must be [batch, units] for every direction"));
      OP_REQUIRES(ctx,
                  w_layer.dims() == 2 && w_layer.dim_size(0) == in->C &&
                      w_layer.dim_size(1) == G * O,
                  InvalidArgument("w_layer must be [features, gates * units]"));
      OP_REQUIRES(ctx,
                  w_iter.dims() == 2 && w_iter.dim_size(0) == O && w_iter.dim_size(1) == G * O,
                  InvalidArgument("w_iter must be [units, gates * units]"));
      OP_REQUIRES(ctx, in->bias[d].NumElements() == Gb * O,
                  InvalidArgument("bias must be [bias gates * units]"));
      OP_REQUIRES(ctx, in->peephole[d].NumElements() == (in->peephole_on ? 3 * O : 0),
                  InvalidArgument("peephole must be [3 * units] (or empty) for every direction"));
    }
  }
};

class ZooRnnOp : public RnnKernel {
 public:
  explicit ZooRnnOp(OpKernelConstruction* ctx) : RnnKernel(ctx) {
    OP_REQUIRES_OK(ctx, ctx->GetAttr("training", &training_));
    std::string precision;
    OP_REQUIRES_OK(ctx, ctx->GetAttr("precision", &precision));
    bf16_ = precision == "bfloat16";
  }

 protected:
  void ComputeWith(OpKernelContext* ctx, const Inputs& in) override {
    const int64_t D = in.D, N = in.N, O = in.O;
    Tensor *y, *h_n, *c_n, *workspace;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, TensorShape({N, in.T, D * O}), &y));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(1, TensorShape({D, N, O}), &h_n));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(2, TensorShape({lstm() ? D : 0, N, O}), &c_n));
    auto offsets = training_ ? workspace_offsets(in) : std::array<int64_t, 3>{0, 0, 0};
    OP_REQUIRES_OK(ctx, ctx->allocate_output(3, TensorShape({offsets[D]}), &workspace));
    run_directions(D, [&](int d) {
      Pointers at = direction_at(in, d, y->flat<float>().data(), h_n->flat<float>().data(),
                                 c_n->flat<float>().data(),
                                 workspace->flat<tensorflow::uint8>().data(), offsets);
      run_forward(problem(in, d), training_, at);
    });
  }

 private:
  bool training_;
};

class ZooRnnGradOp : public RnnKernel {
 public:
  explicit ZooRnnGradOp(OpKernelConstruction* ctx) : RnnKernel(ctx) {
    OP_REQUIRES_OK(ctx, ctx->GetAttr("input_gradient", &input_gradient_));
  }

 protected:
  // Inputs: ZooRnn's, then its outputs y, h_n, c_n, workspace, then dy, dh_n, dc_n.
  // Outputs: the gradients of ZooRnn's inputs, lists as lists; dx is empty unless
  // `input_gradient`.
  void ComputeWith(OpKernelContext* ctx, const Inputs& in) override {
    const int64_t D = in.D, N = in.N, O = in.O;
    const int first = in.X + 6 * D;  // y's index: after x and the six lists
    const Tensor &y = ctx->input(first), &h_n = ctx->input(first + 1),
                 &c_n = ctx->input(first + 2), &workspace = ctx->input(first + 3),
                 &dy = ctx->input(first + 4), &dh_n = ctx->input(first + 5),
                 &dc_n = ctx->input(first + 6);
    OP_REQUIRES(ctx, y.shape() == dy.shape() && y.dim_size(2) == D * O,
                InvalidArgument("y and dy must be [batch, time, directions * units]"));
    OP_REQUIRES(ctx, h_n.shape() == dh_n.shape() && c_n.shape() == dc_n.shape(),
                InvalidArgument("final states and their gradients differ in shape"));
    OpOutputList dx;
    OP_REQUIRES_OK(ctx, ctx->output_list("dx", &dx));
    Tensor* dx_out[2] = {nullptr, nullptr};
    const TensorShape x_shape = in.x[0].shape();
    for (int i = 0; i < in.X; ++i)
      OP_REQUIRES_OK(ctx, dx.allocate(i, input_gradient_ ? x_shape : TensorShape({0}), &dx_out[i]));
    OpOutputList outs[6];
    const char* names[6] = {"dh0", "dc0", "dw_layer", "dw_iter", "dbias", "dpeephole"};
    const OpInputList* ins[6] = {&in.h0, &in.c0, &in.w_layer, &in.w_iter, &in.bias, &in.peephole};
    Tensor* grads[6][2];
    for (int k = 0; k < 6; ++k) {
      OP_REQUIRES_OK(ctx, ctx->output_list(names[k], &outs[k]));
      for (int d = 0; d < D; ++d)
        OP_REQUIRES_OK(ctx, outs[k].allocate(d, (*ins[k])[d].shape(), &grads[k][d]));
    }
    // Where each direction writes its dx: its own output (each x its own, or the one x's for
    // the first direction), or temporaries (the second direction's part of the one x's, added
    // below; and where dx is not wanted, oneDNN's primitive writes one all the same).
    float* dx_at[2] = {nullptr, nullptr};
    Tensor dx_temp[2];
    for (int d = 0; d < D; ++d) {
      if (input_gradient_ && (d == 0 || in.X == 2)) {
        dx_at[d] = dx_out[d]->flat<float>().data();
      } else if (input_gradient_ || !own_loop(problem(in, d))) {
        OP_REQUIRES_OK(ctx, ctx->allocate_temp(tensorflow::DT_FLOAT, x_shape, &dx_temp[d]));
        dx_at[d] = dx_temp[d].flat<float>().data();
      }
    }
    auto offsets = workspace_offsets(in);
    OP_REQUIRES(ctx, workspace.NumElements() == offsets[D],
                InvalidArgument("the workspace is not this problem's (ZooRnn with training=True)"));
    auto out = [&](int k, int d) { return grads[k][d]->flat<float>().data(); };
    auto* ws = const_cast<tensorflow::uint8*>(workspace.flat<tensorflow::uint8>().data());
    run_directions(D, [&](int d) {
      Pointers at = direction_at(in, d, data(y), data(h_n), data(c_n), ws, offsets);
      at.dy = data(dy) + d * O;
      at.dh_n = data(dh_n) + d * N * O;
      at.dc_n = lstm() ? data(dc_n) + d * N * O : nullptr;
      at.dx = dx_at[d];
      at.dh0 = out(0, d);
      at.dc0 = lstm() ? out(1, d) : nullptr;
      at.dw_layer = out(2, d);
      at.dw_iter = out(3, d);
      at.dbias = out(4, d);
      at.dpeephole = in.peephole_on ? out(5, d) : nullptr;
      run_backward(problem(in, d), at, input_gradient_);
    });
    if (input_gradient_ && D == 2 && in.X == 1) {
      auto total = dx_out[0]->flat<float>();
      total += dx_temp[1].flat<float>();
    }
  }

 private:
  bool input_gradient_;
};

}  // namespace

using tensorflow::shape_inference::InferenceContext;
using tensorflow::shape_inference::ShapeHandle;

REGISTER_OP("ZooRnn")
    .Input("x: X * float")
    .Input("h0: D * float")
    .Input("c0: D * float")
    .Input("w_layer: D * float")
    .Input("w_iter: D * float")
    .Input("bias: D * float")
    .Input("peephole: D * float")
    .Output("y: float")
    .Output("h_n: float")
    .Output("c_n: float")
    .Output("workspace: uint8")
    .Attr("X: int >= 1")
    .Attr("D: int >= 1")
    .Attr("cell: {'lstm', 'gru', 'lbr_gru', 'rnn_tanh', 'rnn_relu'}")
    .Attr("training: bool = false")
    .Attr("precision: {'float32', 'bfloat16'} = 'float32'")
    .SetShapeFn([](InferenceContext* c) {
      int64_t D, X;
      TF_RETURN_IF_ERROR(c->GetAttr("D", &D));
      TF_RETURN_IF_ERROR(c->GetAttr("X", &X));
      auto x = c->input(0), h0 = c->input(X);
      auto n = c->Dim(x, 0), t = c->Dim(x, 1), units = c->Dim(h0, 1);
      tensorflow::shape_inference::DimensionHandle width;
      TF_RETURN_IF_ERROR(c->Multiply(units, D, &width));
      c->set_output(0, c->MakeShape({n, t, width}));
      c->set_output(1, c->MakeShape({D, n, units}));
      std::string cell;
      TF_RETURN_IF_ERROR(c->GetAttr("cell", &cell));
      c->set_output(2, c->MakeShape({cell == "lstm" ? D : 0, n, units}));
      c->set_output(3, c->Vector(c->UnknownDim()));
      return tensorflow::OkStatus();
    });

REGISTER_OP("ZooRnnGrad")
    .Input("x: X * float")
    .Input("h0: D * float")
    .Input("c0: D * float")
    .Input("w_layer: D * float")
    .Input("w_iter: D * float")
    .Input("bias: D * float")
    .Input("peephole: D * float")
    .Input("y: float")
    .Input("h_n: float")
    .Input("c_n: float")
    .Input("workspace: uint8")
    .Input("dy: float")
    .Input("dh_n: float")
    .Input("dc_n: float")
    .Output("dx: X * float")
    .Output("dh0: D * float")
    .Output("dc0: D * float")
    .Output("dw_layer: D * float")
    .Output("dw_iter: D * float")
    .Output("dbias: D * float")
    .Output("dpeephole: D * float")
    .Attr("X: int >= 1")
    .Attr("D: int >= 1")
    .Attr("cell: {'lstm', 'gru', 'lbr_gru', 'rnn_tanh', 'rnn_relu'}")
    .Attr("input_gradient: bool = true")
    .SetShapeFn([](InferenceContext* c) {
      int64_t D, X;
      bool input_gradient;
      TF_RETURN_IF_ERROR(c->GetAttr("D", &D));
      TF_RETURN_IF_ERROR(c->GetAttr("X", &X));
      TF_RETURN_IF_ERROR(c->GetAttr("input_gradient", &input_gradient));
      for (int i = 0; i < X + 6 * D; ++i) c->set_output(i, c->input(i));
      for (int i = 0; !input_gradient && i < X; ++i) c->set_output(i, c->Vector(0));
      return tensorflow::OkStatus();
    });

REGISTER_KERNEL_BUILDER(Name("ZooRnn").Device(tensorflow::DEVICE_CPU), ZooRnnOp);
REGISTER_KERNEL_BUILDER(Name("ZooRnnGrad").Device(tensorflow::DEVICE_CPU), ZooRnnGradOp);
