// ZooRnn / ZooRnnGrad: a whole recurrent layer (every step, one or both directions) as one
// TensorFlow op, run by oneDNN's fused RNN primitive on the CPU.
//
// Shapes (D directions, N batch, T time, C input features, O units, G gate blocks):
//   x        [N, T, C]      batch-major input
//   h0, c0   [D, N, O]      initial states (c0 is read by the LSTM only)
//   w_layer  [D, C, G*O]    input kernel per direction, gate blocks side by side
//   w_iter   [D, O, G*O]    recurrent kernel per direction
//   bias     [D, Gb*O]      Gb = G, or 4 for the linear-before-reset GRU
//   peephole [D, 3*O]       LSTM peepholes (i, f, o), or an empty tensor for none
// Outputs: y [N, T, D*O] (the directions' outputs side by side, each aligned with the input's
// steps), h_n and c_n [D, N, O], and the workspace the backward pass needs (training only).
// The gate order and equations are oneDNN's (LSTM: i, f, c~, o as in Keras; GRU: u, r, o with
// h = u * h_prev + (1 - u) * o, as in Keras); zoo/kernels/__init__.py maps the zoo's weights.

#include <oneapi/dnnl/dnnl.hpp>

#include <condition_variable>
#include <cstring>
#include <deque>
#include <functional>
#include <future>
#include <mutex>
#include <stdexcept>
#include <pthread.h>
#include <string>
#include <thread>
#include <unordered_map>

#include "tensorflow/core/framework/op.h"
#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/shape_inference.h"

namespace {

using dnnl::algorithm;
using dnnl::memory;
using dnnl::prop_kind;
using dnnl::rnn_direction;
using tensorflow::OpKernel;
using tensorflow::OpKernelConstruction;
using tensorflow::OpKernelContext;
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

// Every oneDNN call runs on this one thread. oneDNN's OpenMP team belongs to the thread that
// calls it; were that any of TensorFlow's inter-op threads, each would grow its own team, and
// the idle ones would spin against the working one for the same cores (measured: 4x slower on
// 2 cores). The calling thread sleeps until its call is done.
class Worker {
 public:
  Worker() : thread_([this] { Loop(); }) { thread_.detach(); }

  void Run(const std::function<void()>& task) {
    std::packaged_task<void()> job(task);
    auto done = job.get_future();
    {
      std::lock_guard<std::mutex> lock(mutex_);
      queue_.push_back(std::move(job));
    }
    ready_.notify_one();
    done.get();
  }

 private:
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

  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<std::packaged_task<void()>> queue_;
  std::thread thread_;
};

Worker* g_worker = nullptr;  // never destroyed: it may be busy at exit
bool g_forked = false;       // this process was forked after the kernel ran in its parent

Worker& worker() {
  static std::once_flag once;
  std::call_once(once, [] {
    g_worker = new Worker();
    // oneDNN's TBB threads do not survive fork(): a child must not call into them.
    pthread_atfork(nullptr, nullptr, [] { g_forked = true; });
  });
  return *g_worker;
}

int gates_of(const std::string& cell) {
  if (cell == "lstm") return 4;
  if (cell == "gru" || cell == "lbr_gru") return 3;
  return 1;
}

int bias_gates_of(const std::string& cell) { return cell == "lbr_gru" ? 4 : gates_of(cell); }

// The memory descriptors of one problem, as the user's tensors lay them out.
struct Problem {
  std::string cell;
  bool peephole;
  int64_t D, N, T, C, O, G, Gb;
  memory::desc src, dst, state, w_layer, w_iter, bias, w_peephole;
  memory::desc w_layer_any, w_iter_any, w_peephole_any;

  Problem(const std::string& cell_, bool peephole_, int64_t D_, int64_t N_, int64_t T_,
          int64_t C_, int64_t O_)
      : cell(cell_), peephole(peephole_), D(D_), N(N_), T(T_), C(C_), O(O_) {
    G = gates_of(cell);
    Gb = bias_gates_of(cell);
    src = memory::desc({T, N, C}, dt::f32, tag::ntc);
    dst = memory::desc({T, N, D * O}, dt::f32, tag::ntc);
    state = memory::desc({1, D, N, O}, dt::f32, tag::ldnc);
    w_layer = memory::desc({1, D, C, G, O}, dt::f32, tag::ldigo);
    w_iter = memory::desc({1, D, O, G, O}, dt::f32, tag::ldigo);
    bias = memory::desc({1, D, Gb, O}, dt::f32, tag::ldgo);
    w_peephole = memory::desc({1, D, 3, O}, dt::f32, tag::ldgo);
    w_layer_any = memory::desc({1, D, C, G, O}, dt::f32, tag::any);
    w_iter_any = memory::desc({1, D, O, G, O}, dt::f32, tag::any);
  }

  rnn_direction direction() const {
    return D == 2 ? rnn_direction::bidirectional_concat : rnn_direction::unidirectional_left2right;
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
// page-fault back in. Keyed by problem; touched only on the worker thread.
struct Compiled {
  dnnl::primitive_desc pd;
  dnnl::primitive primitive;
};

Compiled& compiled(const Problem& p, const std::string& kind) {
  static std::unordered_map<std::string, Compiled> cache;
  std::string key = p.cell + (p.peephole ? "+p" : "") + "/" + kind + "/" + std::to_string(p.D) +
                    "," + std::to_string(p.N) + "," + std::to_string(p.T) + "," +
                    std::to_string(p.C) + "," + std::to_string(p.O);
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

float* data(const Tensor& t) { return const_cast<float*>(t.flat<float>().data()); }

// A memory over the user's tensor; when the primitive wants another layout, a scratch memory
// in that layout, filled by a reorder (inputs) or copied back after the run (outputs).
struct Bound {
  memory user, inner;
  bool reordered = false;
};

Bound bind_memory(OpKernelContext* ctx, const memory::desc& user_md, const memory::desc& want,
                  float* ptr, bool input, dnnl::stream& stream, std::vector<Tensor>& scratch) {
  auto& e = cpu_engine();
  Bound b;
  b.user = memory(user_md, e, ptr);
  if (want == user_md || want.is_zero()) {
    b.inner = b.user;
    return b;
  }
  scratch.emplace_back();
  Tensor& t = scratch.back();
  auto status = ctx->allocate_temp(tensorflow::DT_UINT8,
                                   TensorShape({static_cast<int64_t>(want.get_size())}), &t);
  if (!status.ok()) throw std::runtime_error(std::string(status.message()));
  b.inner = memory(want, e, t.flat<tensorflow::uint8>().data());
  b.reordered = true;
  if (input) dnnl::reorder(b.user, b.inner).execute(stream, b.user, b.inner);
  return b;
}

void zero(const memory& m) { std::memset(m.get_data_handle(), 0, m.get_desc().get_size()); }

struct Dims {
  int64_t D, N, T, C, O;
};

void read_dims(OpKernelContext* ctx, const std::string& cell, Dims* d) {
  const Tensor& x = ctx->input(0);
  const Tensor& h0 = ctx->input(1);
  const Tensor& w_layer = ctx->input(3);
  const Tensor& w_iter = ctx->input(4);
  OP_REQUIRES(ctx, x.dims() == 3, InvalidArgument("x must be [batch, time, features]"));
  OP_REQUIRES(ctx, h0.dims() == 3, InvalidArgument("h0 must be [directions, batch, units]"));
  d->N = x.dim_size(0);
  d->T = x.dim_size(1);
  d->C = x.dim_size(2);
  d->D = h0.dim_size(0);
  d->O = h0.dim_size(2);
  const int64_t G = gates_of(cell);
  OP_REQUIRES(ctx, d->D == 1 || d->D == 2, InvalidArgument("1 or 2 directions"));
  OP_REQUIRES(ctx, h0.dim_size(1) == d->N, InvalidArgument("h0's batch differs from x's"));
  OP_REQUIRES(ctx,
              w_layer.dims() == 3 && w_layer.dim_size(0) == d->D && w_layer.dim_size(1) == d->C &&
                  w_layer.dim_size(2) == G * d->O,
              InvalidArgument("w_layer must be [directions, features, gates * units]"));
  OP_REQUIRES(ctx,
              w_iter.dims() == 3 && w_iter.dim_size(0) == d->D && w_iter.dim_size(1) == d->O &&
                  w_iter.dim_size(2) == G * d->O,
              InvalidArgument("w_iter must be [directions, units, gates * units]"));
  OP_REQUIRES(ctx, ctx->input(5).NumElements() == d->D * bias_gates_of(cell) * d->O,
              InvalidArgument("bias must be [directions, bias gates * units]"));
  OP_REQUIRES(ctx, d->T > 0 && d->N > 0, InvalidArgument("empty batch or sequence"));
}

// What both ops share: the fork check, the hand-over to the worker thread, the problem read from
// the inputs, oneDNN errors as op errors, and the inputs both primitives read.
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
    worker().Run([&] {
      Dims d;
      read_dims(ctx, cell_, &d);
      if (!ctx->status().ok()) return;
      Problem p(cell_, ctx->input(6).NumElements() > 0, d.D, d.N, d.T, d.C, d.O);
      try {
        ComputeOnWorker(ctx, p);
      } catch (const dnnl::error& err) {
        ctx->CtxFailure(tensorflow::errors::Internal("oneDNN: ", err.what()));
      } catch (const std::exception& err) {
        ctx->CtxFailure(tensorflow::errors::ResourceExhausted("zoo.kernels: ", err.what()));
      }
    });
  }

 protected:
  virtual void ComputeOnWorker(OpKernelContext* ctx, const Problem& p) = 0;

  // x, h0, (c0,) the weights (in the layouts `pd` wants, reordered into `scratch` if needed),
  // bias and peepholes: inputs 0-6 of both ops.
  Args input_args(OpKernelContext* ctx, const Problem& p, const dnnl::primitive_desc& pd,
                  dnnl::stream& stream, std::vector<Tensor>& scratch) {
    auto& e = cpu_engine();
    auto wl = bind_memory(ctx, p.w_layer, pd.weights_desc(0), data(ctx->input(3)), true, stream,
                          scratch);
    auto wi = bind_memory(ctx, p.w_iter, pd.weights_desc(1), data(ctx->input(4)), true, stream,
                          scratch);
    Args args = {
        {DNNL_ARG_SRC_LAYER, memory(p.src, e, data(ctx->input(0)))},
        {DNNL_ARG_SRC_ITER, memory(p.state, e, data(ctx->input(1)))},
        {DNNL_ARG_WEIGHTS_LAYER, wl.inner},
        {DNNL_ARG_WEIGHTS_ITER, wi.inner},
        {DNNL_ARG_BIAS, memory(p.bias, e, data(ctx->input(5)))},
    };
    if (p.lstm()) args[DNNL_ARG_SRC_ITER_C] = memory(p.state, e, data(ctx->input(2)));
    if (p.peephole) args[DNNL_ARG_WEIGHTS_PEEPHOLE] = memory(p.w_peephole, e, data(ctx->input(6)));
    return args;
  }

  std::string cell_;
};

class ZooRnnOp : public RnnKernel {
 public:
  explicit ZooRnnOp(OpKernelConstruction* ctx) : RnnKernel(ctx) {
    OP_REQUIRES_OK(ctx, ctx->GetAttr("training", &training_));
  }

 protected:
  void ComputeOnWorker(OpKernelContext* ctx, const Problem& p) override {
    Tensor *y, *h_n, *c_n, *workspace;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, TensorShape({p.N, p.T, p.D * p.O}), &y));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(1, TensorShape({p.D, p.N, p.O}), &h_n));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(
                            2, TensorShape({p.lstm() ? p.D : 0, p.N, p.O}), &c_n));
    auto& job = compiled(p, training_ ? "training" : "inference");
    auto& pd = job.pd;
    int64_t ws_size = training_ ? pd.query_md(dnnl::query::workspace_md).get_size() : 0;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(3, TensorShape({ws_size}), &workspace));
    auto& e = cpu_engine();
    dnnl::stream stream(e);
    std::vector<Tensor> scratch;
    Args args = input_args(ctx, p, pd, stream, scratch);
    args[DNNL_ARG_DST_LAYER] = memory(p.dst, e, y->flat<float>().data());
    args[DNNL_ARG_DST_ITER] = memory(p.state, e, h_n->flat<float>().data());
    if (p.lstm()) args[DNNL_ARG_DST_ITER_C] = memory(p.state, e, c_n->flat<float>().data());
    if (training_)
      args[DNNL_ARG_WORKSPACE] = memory(pd.query_md(dnnl::query::workspace_md), e,
                                        workspace->flat<tensorflow::uint8>().data());
    job.primitive.execute(stream, args);
    stream.wait();
  }

 private:
  bool training_;
};

class ZooRnnGradOp : public RnnKernel {
 public:
  explicit ZooRnnGradOp(OpKernelConstruction* ctx) : RnnKernel(ctx) {}

 protected:
  // Inputs: x, h0, c0, w_layer, w_iter, bias, peephole (as ZooRnn), then y, h_n, c_n,
  // workspace (ZooRnn's outputs), then dy, dh_n, dc_n.
  void ComputeOnWorker(OpKernelContext* ctx, const Problem& p) override {
    Tensor* out[7];
    for (int i = 0; i < 7; ++i)
      OP_REQUIRES_OK(ctx, ctx->allocate_output(i, ctx->input(i).shape(), &out[i]));
    auto& job = compiled(p, "backward");
    auto& pd = job.pd;
    auto& e = cpu_engine();
    dnnl::stream stream(e);
    std::vector<Tensor> scratch;
    Args args = input_args(ctx, p, pd, stream, scratch);
    auto dwl = bind_memory(ctx, p.w_layer, pd.diff_weights_desc(0), out[3]->flat<float>().data(),
                           false, stream, scratch);
    auto dwi = bind_memory(ctx, p.w_iter, pd.diff_weights_desc(1), out[4]->flat<float>().data(),
                           false, stream, scratch);
    memory dbias(p.bias, e, out[5]->flat<float>().data());
    // The primitive adds to the weights' gradients.
    zero(dwl.inner);
    zero(dwi.inner);
    zero(dbias);
    auto* workspace =
        const_cast<tensorflow::uint8*>(ctx->input(10).flat<tensorflow::uint8>().data());
    args[DNNL_ARG_DST_LAYER] = memory(p.dst, e, data(ctx->input(7)));
    args[DNNL_ARG_DST_ITER] = memory(p.state, e, data(ctx->input(8)));
    args[DNNL_ARG_WORKSPACE] = memory(pd.query_md(dnnl::query::workspace_md), e, workspace);
    args[DNNL_ARG_DIFF_DST_LAYER] = memory(p.dst, e, data(ctx->input(11)));
    args[DNNL_ARG_DIFF_DST_ITER] = memory(p.state, e, data(ctx->input(12)));
    args[DNNL_ARG_DIFF_SRC_LAYER] = memory(p.src, e, out[0]->flat<float>().data());
    args[DNNL_ARG_DIFF_SRC_ITER] = memory(p.state, e, out[1]->flat<float>().data());
    args[DNNL_ARG_DIFF_WEIGHTS_LAYER] = dwl.inner;
    args[DNNL_ARG_DIFF_WEIGHTS_ITER] = dwi.inner;
    args[DNNL_ARG_DIFF_BIAS] = dbias;
    if (p.lstm()) {
      args[DNNL_ARG_DST_ITER_C] = memory(p.state, e, data(ctx->input(9)));
      args[DNNL_ARG_DIFF_DST_ITER_C] = memory(p.state, e, data(ctx->input(13)));
      args[DNNL_ARG_DIFF_SRC_ITER_C] = memory(p.state, e, out[2]->flat<float>().data());
    }
    if (p.peephole) {
      memory dpeep(p.w_peephole, e, out[6]->flat<float>().data());
      zero(dpeep);
      args[DNNL_ARG_DIFF_WEIGHTS_PEEPHOLE] = dpeep;
    }
    job.primitive.execute(stream, args);
    if (dwl.reordered) dnnl::reorder(dwl.inner, dwl.user).execute(stream, dwl.inner, dwl.user);
    if (dwi.reordered) dnnl::reorder(dwi.inner, dwi.user).execute(stream, dwi.inner, dwi.user);
    stream.wait();
  }
};

}  // namespace

using tensorflow::shape_inference::InferenceContext;
using tensorflow::shape_inference::ShapeHandle;

REGISTER_OP("ZooRnn")
    .Input("x: float")
    .Input("h0: float")
    .Input("c0: float")
    .Input("w_layer: float")
    .Input("w_iter: float")
    .Input("bias: float")
    .Input("peephole: float")
    .Output("y: float")
    .Output("h_n: float")
    .Output("c_n: float")
    .Output("workspace: uint8")
    .Attr("cell: {'lstm', 'gru', 'lbr_gru', 'rnn_tanh', 'rnn_relu'}")
    .Attr("training: bool = false")
    .SetShapeFn([](InferenceContext* c) {
      auto x = c->input(0), h0 = c->input(1);
      auto n = c->Dim(x, 0), t = c->Dim(x, 1), dirs = c->Dim(h0, 0), units = c->Dim(h0, 2);
      tensorflow::shape_inference::DimensionHandle width;
      TF_RETURN_IF_ERROR(c->Multiply(dirs, units, &width));
      c->set_output(0, c->MakeShape({n, t, width}));
      c->set_output(1, h0);
      std::string cell;
      TF_RETURN_IF_ERROR(c->GetAttr("cell", &cell));
      c->set_output(2, cell == "lstm" ? h0 : c->MakeShape({0, c->Dim(h0, 1), units}));
      c->set_output(3, c->Vector(c->UnknownDim()));
      return tensorflow::OkStatus();
    });

REGISTER_OP("ZooRnnGrad")
    .Input("x: float")
    .Input("h0: float")
    .Input("c0: float")
    .Input("w_layer: float")
    .Input("w_iter: float")
    .Input("bias: float")
    .Input("peephole: float")
    .Input("y: float")
    .Input("h_n: float")
    .Input("c_n: float")
    .Input("workspace: uint8")
    .Input("dy: float")
    .Input("dh_n: float")
    .Input("dc_n: float")
    .Output("dx: float")
    .Output("dh0: float")
    .Output("dc0: float")
    .Output("dw_layer: float")
    .Output("dw_iter: float")
    .Output("dbias: float")
    .Output("dpeephole: float")
    .Attr("cell: {'lstm', 'gru', 'lbr_gru', 'rnn_tanh', 'rnn_relu'}")
    .SetShapeFn([](InferenceContext* c) {
      for (int i = 0; i < 7; ++i) c->set_output(i, c->input(i));
      return tensorflow::OkStatus();
    });

REGISTER_KERNEL_BUILDER(Name("ZooRnn").Device(tensorflow::DEVICE_CPU), ZooRnnOp);
REGISTER_KERNEL_BUILDER(Name("ZooRnnGrad").Device(tensorflow::DEVICE_CPU), ZooRnnGradOp);
