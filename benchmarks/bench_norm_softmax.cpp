// Softmax and layer norm at the sizes of the GPT in bench_matmul.cpp:
// attention probabilities (batch·head·seq_len = 12288 rows × 256), logits
// (2048 × 65), layer norm over d_model (2048 × 384). Reports GB/s: bytes read
// plus written per call, each array counted once.
#include <vector>

#include "bench_util.h"
#include "core/kernels/norm.h"
#include "core/kernels/softmax.h"

namespace tfm::bench {
namespace {

constexpr double kF = sizeof(float);

void BM_softmax_forward(benchmark::State& state) {
  const int64_t rows = state.range(0), cols = state.range(1);
  std::vector<float> x = random_floats(rows * cols, -4.0f, 4.0f), out(rows * cols);
  for (auto _ : state) {
    softmax_forward(out.data(), x.data(), rows, cols);
    benchmark::ClobberMemory();
  }
  report_gbytes(state, kF * 2.0 * rows * cols);  // x, out
}

void BM_softmax_backward(benchmark::State& state) {
  const int64_t rows = state.range(0), cols = state.range(1);
  std::vector<float> x = random_floats(rows * cols, -4.0f, 4.0f), out(rows * cols);
  std::vector<float> dout = random_floats(rows * cols, -1.0f, 1.0f, 7), dx(rows * cols, 0.0f);
  softmax_forward(out.data(), x.data(), rows, cols);
  for (auto _ : state) {
    softmax_backward(dx.data(), dout.data(), out.data(), rows, cols);
    benchmark::ClobberMemory();
  }
  report_gbytes(state, kF * 4.0 * rows * cols);  // dout, out, dx read and written
}

void BM_layernorm_forward(benchmark::State& state) {
  const int64_t rows = state.range(0), dim = state.range(1);
  std::vector<float> x = random_floats(rows * dim), out(rows * dim), mean(rows), rstd(rows);
  std::vector<float> gamma = random_floats(dim, 0.5f, 1.5f, 5), beta = random_floats(dim, -0.5f, 0.5f, 6);
  for (auto _ : state) {
    layernorm_forward(out.data(), mean.data(), rstd.data(), x.data(), gamma.data(), beta.data(), rows, dim, 1e-5f);
    benchmark::ClobberMemory();
  }
  report_gbytes(state, kF * (2.0 * rows * dim + 2.0 * dim + 2.0 * rows));  // x, out; gamma, beta; mean, rstd
}

void BM_layernorm_backward(benchmark::State& state) {
  const int64_t rows = state.range(0), dim = state.range(1);
  std::vector<float> x = random_floats(rows * dim), out(rows * dim), mean(rows), rstd(rows);
  std::vector<float> gamma = random_floats(dim, 0.5f, 1.5f, 5), beta = random_floats(dim, -0.5f, 0.5f, 6);
  std::vector<float> dout = random_floats(rows * dim, -1.0f, 1.0f, 7), dx(rows * dim, 0.0f), dgamma(dim, 0.0f),
                     dbeta(dim, 0.0f);
  layernorm_forward(out.data(), mean.data(), rstd.data(), x.data(), gamma.data(), beta.data(), rows, dim, 1e-5f);
  for (auto _ : state) {
    layernorm_backward(dx.data(), dgamma.data(), dbeta.data(), dout.data(), x.data(), mean.data(), rstd.data(),
                       gamma.data(), rows, dim);
    benchmark::ClobberMemory();
  }
  // dout, x read; dx read and written; mean, rstd; gamma; dgamma, dbeta read and written
  report_gbytes(state, kF * (4.0 * rows * dim + 2.0 * rows + 5.0 * dim));
}

BENCHMARK(BM_softmax_forward)->Args({12288, 256})->Args({2048, 65})->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_softmax_backward)->Args({12288, 256})->Args({2048, 65})->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_layernorm_forward)->Args({2048, 384})->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_layernorm_backward)->Args({2048, 384})->UseRealTime()->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace tfm::bench
