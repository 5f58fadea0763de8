// GELU (exact and tanh forms) over the fc1 output of the GPT in bench_matmul.cpp
// (2048 × 1536) and cross-entropy over its logits (2048 × 65) and over a
// word-level vocabulary (1024 × 8000). Reports GB/s: bytes read plus written
// per call, each array counted once.
#include <cstdint>
#include <vector>

#include "bench_util.h"
#include "core/kernels/activation.h"
#include "core/kernels/loss.h"

namespace tfm::bench {
namespace {

constexpr double kF = sizeof(float);

template <void (*Forward)(float*, const float*, int64_t)>
void BM_activation_forward(benchmark::State& state) {
  const int64_t n = state.range(0);
  std::vector<float> x = random_floats(n, -4.0f, 4.0f), out(n);
  for (auto _ : state) {
    Forward(out.data(), x.data(), n);
    benchmark::ClobberMemory();
  }
  report_gbytes(state, kF * 2.0 * n);  // x, out
}

template <void (*Backward)(float*, const float*, const float*, int64_t)>
void BM_activation_backward(benchmark::State& state) {
  const int64_t n = state.range(0);
  std::vector<float> x = random_floats(n, -4.0f, 4.0f), dout = random_floats(n, -1.0f, 1.0f, 7), dx(n, 0.0f);
  for (auto _ : state) {
    Backward(dx.data(), dout.data(), x.data(), n);
    benchmark::ClobberMemory();
  }
  report_gbytes(state, kF * 4.0 * n);  // x, dout; dx read and written
}

std::vector<int32_t> random_targets(int64_t rows, int64_t vocab) {
  std::vector<float> u = random_floats(rows, 0.0f, 1.0f, 9);
  std::vector<int32_t> t(rows);
  for (int64_t r = 0; r < rows; ++r) t[r] = static_cast<int32_t>(u[r] * static_cast<float>(vocab - 1));
  return t;
}

// As autograd's op calls it: no per-row losses, no ignored rows, no smoothing.
void BM_cross_entropy_forward(benchmark::State& state) {
  const int64_t rows = state.range(0), vocab = state.range(1);
  std::vector<float> logits = random_floats(rows * vocab, -4.0f, 4.0f), lse(rows);
  std::vector<int32_t> targets = random_targets(rows, vocab);
  for (auto _ : state) {
    CrossEntropyResult r = cross_entropy_forward(lse.data(), nullptr, logits.data(), targets.data(), rows, vocab,
                                                 -100, 0.0f);
    benchmark::DoNotOptimize(r);
  }
  // logits (read by the parallel pass; the serial loss sum reads the target
  // logit only); targets, lse
  report_gbytes(state, kF * (1.0 * rows * vocab + 2.0 * rows));
}

void BM_cross_entropy_backward(benchmark::State& state) {
  const int64_t rows = state.range(0), vocab = state.range(1);
  std::vector<float> logits = random_floats(rows * vocab, -4.0f, 4.0f), lse(rows), dlogits(rows * vocab, 0.0f);
  std::vector<int32_t> targets = random_targets(rows, vocab);
  cross_entropy_forward(lse.data(), nullptr, logits.data(), targets.data(), rows, vocab, -100, 0.0f);
  for (auto _ : state) {
    cross_entropy_backward(dlogits.data(), logits.data(), lse.data(), targets.data(), rows, vocab, -100, 0.0f,
                           1.0f / static_cast<float>(rows));
    benchmark::ClobberMemory();
  }
  report_gbytes(state, kF * (3.0 * rows * vocab + 2.0 * rows));  // logits; dlogits read and written; lse, targets
}

constexpr int64_t kFC1 = 2048 * 1536;
BENCHMARK(BM_activation_forward<gelu_forward>)->Name("BM_gelu_forward")->Arg(kFC1)->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_activation_backward<gelu_backward>)->Name("BM_gelu_backward")->Arg(kFC1)->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_activation_forward<gelu_tanh_forward>)->Name("BM_gelu_tanh_forward")->Arg(kFC1)->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_activation_backward<gelu_tanh_backward>)->Name("BM_gelu_tanh_backward")->Arg(kFC1)->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_cross_entropy_forward)->Args({2048, 65})->Args({1024, 8000})->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_cross_entropy_backward)->Args({2048, 65})->Args({1024, 8000})->UseRealTime()->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace tfm::bench
