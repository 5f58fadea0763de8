#pragma once
// Helpers shared by the unit tests: seeded random tensors and naive references.
#include <gtest/gtest.h>

#include <stdlib.h>
#include <sys/wait.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "autograd/gradcheck.h"
#include "autograd/variable.h"
#include "core/error.h"
#include "core/rng.h"
#include "core/tensor.h"

namespace tfm::testing {

inline Tensor random_tensor(const Shape& shape, uint64_t seed, float low = -1.0f, float high = 1.0f) {
  Tensor t = Tensor::empty(shape);
  Generator g(seed);
  fill_uniform(t.data(), t.numel(), low, high, g);
  return t;
}

inline Variable random_param(const Shape& shape, uint64_t seed, float low = -1.0f, float high = 1.0f) {
  return Variable(random_tensor(shape, seed, low, high), true);
}

inline Tensor random_ids(const Shape& shape, int32_t vocab, uint64_t seed) {
  Tensor t = Tensor::empty(shape, DType::I32);
  Generator g(seed);
  for (int64_t i = 0; i < t.numel(); ++i) t.data_i32()[i] = static_cast<int32_t>(g.next_below(vocab));
  return t;
}

inline void expect_close(const float* a, const float* b, int64_t n, float atol, float rtol = 0.0f) {
  for (int64_t i = 0; i < n; ++i)
    ASSERT_NEAR(a[i], b[i], atol + rtol * std::fabs(b[i])) << "at element " << i;
}

inline void expect_close(const Tensor& a, const Tensor& b, float atol, float rtol = 0.0f) {
  ASSERT_EQ(a.shape(), b.shape());
  expect_close(a.data(), b.data(), a.numel(), atol, rtol);
}

// Runs f, expects a tfm::Error and returns its message.
template <typename F>
std::string error_message(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected tfm::Error";
  return "<no tfm::Error thrown>";
}

// The named parameter of a module (as named_parameters() names it); an empty
// tensor and a test failure when there is none.
template <typename M>
Tensor parameter(const M& module, const std::string& name) {
  for (auto& [n, p] : module.named_parameters())
    if (n == name) return p->data();
  ADD_FAILURE() << "no parameter " << name;
  return Tensor();
}

#define EXPECT_CONTAINS(haystack, needle)                                                              \
  do {                                                                                                 \
    const std::string _h = (haystack);                                                                 \
    EXPECT_NE(_h.find(needle), std::string::npos) << "\"" << _h << "\" lacks \"" << (needle) << "\""; \
  } while (0)

// About `bytes` bytes of lines of 4 to 12 words drawn from the first n_words of a
// fixed list of 16, from a fixed seed: a small word-level corpus for tool tests.
inline std::string word_corpus(size_t bytes = 20000, size_t n_words = 16, uint32_t seed = 3) {
  static const std::vector<std::string> words = {"the", "quick", "brown", "fox", "jumps", "over",  "lazy", "dog",
                                                 "and", "cat",   "sat",   "on",  "mat",   "while", "bird", "sings"};
  std::mt19937 gen(seed);
  std::string text;
  while (text.size() < bytes) {
    const int n = 4 + static_cast<int>(gen() % 9);
    for (int k = 0; k < n; ++k) text += (k ? " " : "") + words[gen() % n_words];
    text += "\n";
  }
  return text;
}

// A fresh directory under the system temp dir, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "tfm-test-XXXXXX").string();
    path_ = ::mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  // Writes contents to name inside the directory; returns its path.
  std::string file(const std::string& name, const std::string& contents) const {
    const std::string p = path(name);
    std::ofstream(p, std::ios::binary) << contents;
    return p;
  }
  std::string path(const std::string& name = "") const { return (std::filesystem::path(path_) / name).string(); }

 private:
  std::string path_;
};

inline std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct ProcessResult {
  int code = -1;
  std::string out, err;
};

// Runs `tfm ARGS` in `cwd` (a time limit guards against hangs); arguments are
// passed through the shell, so tests quote them.
inline ProcessResult tfm(const std::string& args, const std::string& cwd) {
  const std::string out = cwd + "/.stdout", err = cwd + "/.stderr";
  const std::string cmd = "cd '" + cwd + "' && timeout 120 '" + std::string(TFM_EXE) + "' " + args + " >'" + out +
                          "' 2>'" + err + "' </dev/null";
  const int status = std::system(cmd.c_str());
  ProcessResult r;
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = slurp(out);
  r.err = slurp(err);
  return r;
}

#define EXPECT_GRADCHECK(fn, inputs, ...)                                         \
  do {                                                                            \
    ::tfm::GradcheckResult _r = ::tfm::gradcheck((fn), (inputs), ##__VA_ARGS__);  \
    EXPECT_TRUE(_r.ok) << _r.report;                                              \
    EXPECT_GT(_r.checked, 0);                                                     \
  } while (0)

}  // namespace tfm::testing
