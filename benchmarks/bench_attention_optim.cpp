// Attention forward/backward at the GPT shape of bench_matmul.cpp (batch 8,
// 6 heads of 64, 256 positions, causal; q|k|v as column chunks of one fused
// [B, T, 3·384] projection, as the model runs it), with stored and with
// recomputed softmax weights, in fp32 and with bf16 GEMMs; embedding lookup and its scatter-add backward;
// one AdamW step over the 10.7M parameters of that GPT. Attention reports
// GFLOP/s (the GEMM bound), the others GB/s (the memory-bandwidth bound).
#include <cstdint>
#include <vector>

#include "autograd/variable.h"
#include "bench_util.h"
#include "core/kernels/attention.h"
#include "core/kernels/embedding.h"
#include "core/precision.h"
#include "optim/optimizer.h"

namespace tfm::bench {
namespace {

constexpr double kF = sizeof(float);
constexpr int64_t kB = 8, kH = 6, kT = 256, kDh = 64, kD = kH * kDh;

AttentionDims gpt_dims() {
  AttentionDims d;
  d.batch = kB, d.n_head = kH, d.q_len = kT, d.kv_len = kT, d.head_dim = kDh;
  d.ldq = d.ldk = d.ldv = 3 * kD;
  d.ldo = kD;
  d.causal = true;
  return d;
}

// Multiply-adds of the visible (lower-triangle) scores, ×2 for FLOPs, per GEMM pair.
double causal_flops(int gemms) { return gemms * 2.0 * kB * kH * (kT * (kT + 1) / 2.0) * kDh; }

void BM_attention_forward(benchmark::State& state) {
  const bool store = state.range(0) != 0;
  const PrecisionScope precision(state.range(1) != 0 ? Precision::BF16 : Precision::F32);
  const AttentionDims d = gpt_dims();
  const AttentionPlan plan = attention_plan(d);
  std::vector<float> qkv = random_floats(kB * kT * 3 * kD), out(kB * kT * kD), P(store ? plan.p_numel(d) : 0);
  for (auto _ : state) {
    attention_forward(out.data(), store ? P.data() : nullptr, qkv.data(), qkv.data() + kD, qkv.data() + 2 * kD, d, plan);
    benchmark::ClobberMemory();
  }
  report_gflops(state, causal_flops(2));  // Q Kᵀ and P V
}

void BM_attention_backward(benchmark::State& state) {
  const bool store = state.range(0) != 0;
  const PrecisionScope precision(state.range(1) != 0 ? Precision::BF16 : Precision::F32);
  const AttentionDims d = gpt_dims();
  const AttentionPlan plan = attention_plan(d);
  std::vector<float> qkv = random_floats(kB * kT * 3 * kD), out(kB * kT * kD), P(plan.p_numel(d));
  std::vector<float> dout = random_floats(kB * kT * kD, -1.0f, 1.0f, 5), dqkv(kB * kT * 3 * kD, 0.0f);
  const float *q = qkv.data(), *k = q + kD, *v = q + 2 * kD;
  attention_forward(out.data(), P.data(), q, k, v, d, plan);
  for (auto _ : state) {
    attention_backward(dqkv.data(), dqkv.data() + kD, dqkv.data() + 2 * kD, dout.data(), store ? P.data() : nullptr,
                       q, k, v, d, plan);
    benchmark::ClobberMemory();
  }
  // dV = Pᵀ dO, dP = dO Vᵀ, dQ = dS K, dK = dSᵀ Q (+ Q Kᵀ again when recomputing; not counted: useful work only).
  report_gflops(state, causal_flops(4));
}

void BM_embedding_forward(benchmark::State& state) {
  const int64_t n = state.range(0), vocab = state.range(1), dim = state.range(2);
  std::vector<float> weight = random_floats(vocab * dim), out(n * dim);
  std::vector<int32_t> ids(n);
  for (int64_t i = 0; i < n; ++i) ids[i] = static_cast<int32_t>((i * 7919) % vocab);
  for (auto _ : state) {
    embedding_forward(out.data(), ids.data(), weight.data(), n, vocab, dim);
    benchmark::ClobberMemory();
  }
  report_gbytes(state, kF * 2.0 * n * dim);  // gathered rows read, out written
}

void BM_embedding_backward(benchmark::State& state) {
  const int64_t n = state.range(0), vocab = state.range(1), dim = state.range(2);
  std::vector<float> dout = random_floats(n * dim), dweight(vocab * dim, 0.0f);
  std::vector<int32_t> ids(n);
  for (int64_t i = 0; i < n; ++i) ids[i] = static_cast<int32_t>((i * 7919) % vocab);
  for (auto _ : state) {
    embedding_backward(dweight.data(), dout.data(), ids.data(), n, dim);
    benchmark::ClobberMemory();
  }
  report_gbytes(state, kF * 3.0 * n * dim);  // dout read; dweight rows read and written
}

// One AdamW step over the GPT's parameter shapes (6 layers, d 384, d_ff 1536, vocab 65, 256 positions).
void BM_adamw_step(benchmark::State& state) {
  std::vector<Variable> vars;
  auto add = [&](std::vector<int64_t> shape) {
    int64_t n = 1;
    for (int64_t s : shape) n *= s;
    Tensor t = Tensor::empty(Shape(shape));
    std::vector<float> init = random_floats(n, -0.1f, 0.1f, static_cast<uint32_t>(vars.size()));
    std::copy(init.begin(), init.end(), t.data());
    vars.emplace_back(t, true);
    vars.back().ensure_grad().fill(1e-3f);
  };
  add({65, kD});
  add({kT, kD});
  for (int l = 0; l < 6; ++l) {
    add({kD}), add({kD}), add({3 * kD, kD}), add({3 * kD}), add({kD, kD}), add({kD});
    add({kD}), add({kD}), add({4 * kD, kD}), add({4 * kD}), add({kD, 4 * kD}), add({kD});
  }
  add({kD}), add({kD});
  NamedParameters params;
  int64_t total = 0;
  for (size_t i = 0; i < vars.size(); ++i) {
    params.emplace_back("p" + std::to_string(i) + (vars[i].shape().ndim() >= 2 ? ".weight" : ".bias"), &vars[i]);
    total += vars[i].numel();
  }
  OptimizerConfig oc;
  oc.name = "adamw";
  oc.weight_decay = 0.1;
  auto opt = make_optimizer(params, oc);
  for (auto _ : state) {
    opt->step(1e-4);
    benchmark::ClobberMemory();
  }
  state.counters["params"] = static_cast<double>(total);
  report_gbytes(state, kF * 7.0 * total);  // p, g, m, v read; p, m, v written
}

// bf16 1: the GEMMs on bf16 operands (Precision::BF16), as train.precision = bf16 runs them.
BENCHMARK(BM_attention_forward)->ArgNames({"store_p", "bf16"})->ArgsProduct({{1, 0}, {0, 1}})->UseRealTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_attention_backward)->ArgNames({"store_p", "bf16"})->ArgsProduct({{1, 0}, {0, 1}})->UseRealTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_embedding_forward)->Args({2048, 65, 384})->Args({2048, 33278, 256})->UseRealTime();
BENCHMARK(BM_embedding_backward)->Args({2048, 65, 384})->Args({2048, 33278, 256})->UseRealTime();
BENCHMARK(BM_adamw_step)->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace tfm::bench
