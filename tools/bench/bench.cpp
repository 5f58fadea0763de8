#include "tools/bench/bench.h"

#include <dnnl.hpp>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/allocator.h"
#include "core/error.h"
#include "core/kernels/matmul.h"
#include "core/parallel.h"
#include "core/precision.h"
#include "core/rng.h"
#include "layers/module.h"
#include "models/lm.h"
#include "models/transformer.h"
#include "optim/optimizer.h"
#include "tools/support/gemm_peaks.h"
#include "tools/train/distributed.h"

namespace tfm {
namespace {

struct Preset {
  bool lm;
  int64_t n_layer, n_head, d_model, d_ff, seq_len, batch, vocab;
};

Preset preset(const std::string& name) {
  if (name == "gpt-tiny") return {true, 4, 4, 128, 512, 64, 12, 65};
  if (name == "gpt-small") return {true, 6, 6, 384, 1536, 256, 8, 65};
  if (name == "seq2seq") return {false, 3, 8, 256, 1024, 32, 32, 8000};
  TFM_FAIL("bench: unknown preset \"", name, "\" (one of: gpt-tiny, gpt-small, seq2seq)");
}

Tensor random_ids(int64_t b, int64_t t, int64_t vocab, Generator& gen) {
  Tensor ids = Tensor::empty({b, t}, DType::I32);
  for (int64_t i = 0; i < ids.numel(); ++i) ids.data_i32()[i] = static_cast<int32_t>(gen.next_below(vocab));
  return ids;
}

// Teacher forcing over random rows of seq_len + 1 ids: input the first seq_len, target the last.
void random_input_and_target(Batch& b, const Preset& p, Generator& gen) {
  const Tensor ids = random_ids(p.batch, p.seq_len + 1, p.vocab, gen);
  b.input = Tensor::empty({p.batch, p.seq_len}, DType::I32);
  b.target = Tensor::empty({p.batch, p.seq_len}, DType::I32);
  for (int64_t r = 0; r < p.batch; ++r)
    for (int64_t t = 0; t < p.seq_len; ++t) {
      b.input.data_i32()[r * p.seq_len + t] = ids.data_i32()[r * (p.seq_len + 1) + t];
      b.target.data_i32()[r * p.seq_len + t] = ids.data_i32()[r * (p.seq_len + 1) + t + 1];
    }
}

Batch random_batch(const Preset& p, Generator& gen) {
  Batch b;
  if (!p.lm) b.source = random_ids(p.batch, p.seq_len, p.vocab, gen);
  random_input_and_target(b, p, gen);
  return b;
}

// The preset's model, and what its FLOP count needs: the parameters every token
// multiplies (without position embeddings) and the attention layers.
struct BenchModel {
  std::unique_ptr<Model> model;
  int64_t n_flop_params = 0, attention_layers = 0;
};

BenchModel make_model(const Preset& p, const BenchOptions& o) {
  BenchModel m;
  if (p.lm) {
    m.model = ModelRegistry::create({{"type", "lm"}, {"n_layer", p.n_layer}, {"n_head", p.n_head},
                                     {"d_model", p.d_model}, {"d_ff", p.d_ff}, {"seq_len", p.seq_len},
                                     {"vocab_size", p.vocab}, {"attention_window", o.window}});
    m.n_flop_params = m.model->parameter_count() - p.seq_len * p.d_model;  // minus position embeddings
    m.attention_layers = p.n_layer;
  } else {
    m.model = ModelRegistry::create({{"type", "transformer"}, {"n_layer", p.n_layer}, {"n_head", p.n_head},
                                     {"d_model", p.d_model}, {"d_ff", p.d_ff}, {"seq_len", p.seq_len},
                                     {"vocab_size", p.vocab}, {"dropout", 0.0}});
    m.n_flop_params = m.model->parameter_count();
    m.attention_layers = 2 * p.n_layer;
  }
  Generator init(0);
  m.model->init_weights(init);
  return m;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// The gradient reduction of data-parallel training, alone: one blocking allreduce of every
// parameter's gradient (the trainer's buckets add up to the same bytes).
int run_allreduce(const BenchOptions& o, int64_t n_params) {
  TFM_CHECK(dist::size() > 1, "bench --allreduce: run it under mpirun with at least 2 ranks");
  std::vector<float> grad(static_cast<size_t>(n_params), 1.0f);
  std::vector<double> times;
  for (int i = 0; i < o.warmup + o.steps; ++i) {
    dist::barrier();
    const auto t0 = std::chrono::steady_clock::now();
    dist::allreduce_sum(grad.data(), n_params);
    if (i >= o.warmup) times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(times.begin(), times.end());
  const double t = times[times.size() / 2], bytes = 4.0 * n_params, n = dist::size();
  // Bus bandwidth as NCCL and the OSU benchmarks report it: a ring moves 2(n-1)/n of the buffer per rank.
  const double busbw = 2.0 * (n - 1) / n * bytes / t / 1e9;
  if (dist::is_root()) {
    std::printf("allreduce of %s's gradient: %.2fM floats (%.1f MB), %d ranks: median %.3f ms, bus bandwidth %.2f GB/s\n",
                o.preset.c_str(), n_params / 1e6, bytes / 1e6, dist::size(), t * 1e3, busbw);
    if (o.json)
      std::printf("%s\n", nlohmann::json{{"preset", o.preset}, {"mode", "allreduce"}, {"ranks", dist::size()},
                                          {"floats", n_params}, {"ms", t * 1e3}, {"bus_gb_per_s", busbw}}
                               .dump()
                               .c_str());
  }
  return 0;
}

// One timed unit: a training step (forward, backward, AdamW) or, with --infer, a forward pass.
class BenchStep {
 public:
  BenchStep(Model& model, const BenchOptions& o)
      : model_(model), infer_(o.infer), precision_(o.precision == "bf16" ? Precision::BF16 : Precision::F32) {
    if (infer_) {
      model_.eval();
      return;
    }
    OptimizerConfig oc;
    oc.name = "adamw";
    oc.beta1 = 0.9;
    oc.beta2 = 0.95;
    oc.weight_decay = 0.1;
    oc.decay_embeddings = true;  // torch_ref decays every parameter
    opt_ = make_optimizer(model_.named_parameters(), oc);
  }

  double operator()(const Batch& b) {
    PrecisionScope scope(precision_);
    if (infer_) {
      NoGradGuard no_grad;
      Bf16WeightCache weights;
      return model_.loss(b).item();
    }
    Variable loss;
    {
      Bf16WeightCache weights;  // bf16 copies of the weights for this step's forward and backward
      loss = model_.loss(b);
      loss.backward();
    }
    opt_->step(3e-4);
    opt_->zero_grad();
    return loss.item();
  }

 private:
  Model& model_;
  bool infer_;
  Precision precision_;
  std::unique_ptr<Optimizer> opt_;
};

struct Timing {
  double seconds = 0;  // median per step
  int64_t os_allocations = 0, primitives_created = 0;
};

Timing time_steps(BenchStep& step, const Preset& p, const BenchOptions& o) {
  Generator gen(0);
  for (int i = 0; i < o.warmup; ++i) step(random_batch(p, gen));
  std::vector<double> times;
  const int64_t os_allocs_before = allocator_stats().os_allocations, prims_before = gemm_primitives_created();
  for (int i = 0; i < o.steps; ++i) {
    Batch b = random_batch(p, gen);
    const auto t0 = std::chrono::steady_clock::now();
    const double loss = step(b);
    times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    if (!o.json) std::printf("step %d/%d: %.2f ms, loss %.4f\n", i + 1, o.steps, times.back() * 1e3, loss);
  }
  // Steady state: the timed steps should take no new memory from the OS and create no oneDNN primitive.
  return {median(times), allocator_stats().os_allocations - os_allocs_before,
          gemm_primitives_created() - prims_before};
}
}  // namespace

int run_bench(const BenchOptions& o) {
  Preset p = preset(o.preset);
  if (o.seq_len > 0) p.seq_len = o.seq_len;
  if (o.batch > 0) p.batch = o.batch;
  TFM_CHECK(o.steps >= 1 && o.warmup >= 0 && o.threads >= 1, "bench: need --steps >= 1, --warmup >= 0, --threads >= 1");
  check_bench_precision(o.precision);
  const double peak = o.peak_gflops > 0 ? o.peak_gflops : gemm_peak_gflops(o.threads, false, o.precision);
  set_num_threads(o.threads);
  default_generator().set_state(0, 0);
  BenchModel m = make_model(p, o);
  const int64_t n_params = m.model->parameter_count();
  if (o.allreduce) return run_allreduce(o, n_params);
  const int64_t tokens_per_step = p.batch * p.seq_len;
  const double flops_per_token = 6.0 * m.n_flop_params + 12.0 * m.attention_layers * p.seq_len * p.d_model;
  const double flops_per_step = flops_per_token * tokens_per_step / (o.infer ? 3.0 : 1.0);

  BenchStep step(*m.model, o);
  std::printf("tfm bench: %s %s %s, %.2fM params, %lld tokens/step, threads %d, peak %.1f GFLOP/s\n",
              o.preset.c_str(), o.infer ? "infer" : "train", o.precision.c_str(), n_params / 1e6,
              static_cast<long long>(tokens_per_step), num_threads(), peak);
  std::fflush(stdout);
  const Timing timing = time_steps(step, p, o);
  const double seconds = timing.seconds, gflops = flops_per_step / seconds / 1e9;
  struct rusage ru {};
  getrusage(RUSAGE_SELF, &ru);
  const double rss_mb = ru.ru_maxrss / 1024.0;
  std::printf("median %.2f ms/step, %.0f tokens/s, %.1f GFLOP/s, MFU %.1f%%, peak RSS %.0f MB\n", seconds * 1e3,
              tokens_per_step / seconds, gflops, 100.0 * gflops / peak, rss_mb);
  std::printf("steady state: %lld tensor blocks from the OS and %lld oneDNN primitives created in %d timed steps\n",
              static_cast<long long>(timing.os_allocations), static_cast<long long>(timing.primitives_created),
              o.steps);
  if (o.json) {
    nlohmann::json j = {{"preset", o.preset},
                        {"mode", o.infer ? "infer" : "train"},
                        {"threads", num_threads()},
                        {"steps", o.steps},
                        {"ms_per_step", seconds * 1e3},
                        {"tokens_per_s", tokens_per_step / seconds},
                        {"gflops", gflops},
                        {"mfu", gflops / peak},
                        {"peak_rss_mb", rss_mb},
                        {"n_params", n_params},
                        {"peak_gflops", peak},
                        {"precision", o.precision},
                        {"seq_len", p.seq_len},
                        {"attention_window", o.window},
                        {"steady_os_allocations", timing.os_allocations},
                        {"steady_primitives_created", timing.primitives_created}};
    std::printf("%s\n", j.dump().c_str());
  }
  return 0;
}

}  // namespace tfm
