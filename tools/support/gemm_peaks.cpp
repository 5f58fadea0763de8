#include "tools/support/gemm_peaks.h"

#include <dnnl.hpp>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <vector>

#include "core/error.h"
#include "core/kernels/matmul.h"
#include "core/parallel.h"
#include "core/precision.h"
#include "core/rng.h"

namespace tfm {
namespace {

std::string cache_path(int threads, const std::string& precision) {
  const char* home = std::getenv("HOME");
  char host[256] = "host";
  ::gethostname(host, sizeof host - 1);
  const std::string tag = precision == "fp32" ? "" : precision + "-";  // fp32 keeps its old file name
  return std::string(home ? home : "/tmp") + "/.cache/tfm/peak-" + tag + host + "-" + std::to_string(threads) +
         ".json";
}

}  // namespace

void check_bench_precision(const std::string& precision) {
  TFM_CHECK(precision == "fp32" || precision == "bf16", "bench: --precision must be fp32 or bf16, found \"",
            precision, "\"");
}

GemmPeaks measure_gemm_peaks(int threads) {
  set_num_threads(threads);
  constexpr int64_t n = 1024;
  std::vector<float> a(n * n), b(n * n), c(n * n);
  Generator g(1);
  fill_uniform(a.data(), n * n, -1, 1, g);
  fill_uniform(b.data(), n * n, -1, 1, g);
  std::vector<bf16_t> a16(n * n), b16(n * n);
  f32_to_bf16(a.data(), a16.data(), n * n);
  f32_to_bf16(b.data(), b16.data(), n * n);
  auto seconds = [](auto&& f) {
    auto t0 = std::chrono::steady_clock::now();
    f();
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  };
  // Interleaved, so that a burst of other load hits both alike; the first 5 rounds warm up.
  const bool bf16 = __builtin_cpu_supports("avx512f");  // oneDNN has no bf16 matmul below AVX-512
  std::vector<double> t32, t16;
  for (int i = 0; i < 25; ++i) {
    t32.push_back(seconds([&] { dnnl_sgemm('N', 'N', n, n, n, 1.0f, a.data(), n, b.data(), n, 0.0f, c.data(), n); }));
    if (bf16)
      t16.push_back(seconds([&] { gemm_bf16(false, false, n, n, n, 1.0f, a16.data(), n, b16.data(), n, 0.0f, c.data(), n); }));
  }
  auto median_gflops = [](std::vector<double> t) {
    if (t.size() <= 5) return 0.0;
    std::sort(t.begin() + 5, t.end());
    return 2.0 * n * n * n / t[5 + (t.size() - 5) / 2] / 1e9;
  };
  GemmPeaks peaks{median_gflops(t32), median_gflops(t16), cpu_has_avx512_bf16()};
  for (const auto& [precision, gflops] : {std::pair<std::string, double>{"fp32", peaks.fp32}, {"bf16", peaks.bf16}}) {
    if (gflops <= 0) continue;  // not measured (bf16 without AVX-512)
    const std::string path = cache_path(threads, precision);
    std::error_code ec;
    std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
    std::ofstream(path) << nlohmann::json{{"gflops", gflops}, {"threads", threads}, {"n", n}, {"precision", precision}}.dump()
                        << "\n";
  }
  return peaks;
}

double gemm_peak_gflops(int threads, bool remeasure, const std::string& precision) {
  check_bench_precision(precision);
  if (!remeasure) {
    std::ifstream in(cache_path(threads, precision));
    if (in.good()) {
      try {
        return nlohmann::json::parse(in).at("gflops").get<double>();
      } catch (...) {
      }
    }
  }
  const GemmPeaks peaks = measure_gemm_peaks(threads);
  return precision == "bf16" ? peaks.bf16 : peaks.fp32;
}

}  // namespace tfm
