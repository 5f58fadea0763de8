#pragma once
// The fuzz targets' shared part. Each target (fuzz_<name>.cpp) is a function
// of the input bytes that hands them to one of tfm's readers the way the tool
// does; bad input must end in tfm::Error. libFuzzer's entry point (built with
// TFM_FUZZ_LIBFUZZER by tests/fuzz/CMakeLists.txt) catches tfm::Error and nothing else,
// so any other exception, a crash, undefined behaviour, a leak, a broken
// invariant (InvariantViolation) or an allocation over -malloc_limit_mb is a
// finding. tests/test_fuzz_regressions.cpp links the same functions into the
// normal build and replays the inputs of regressions/ and corpus/.
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

#include "core/error.h"

namespace tfm::fuzz {

void safetensors(std::string_view input);
void checkpoint(std::string_view input);
void train_state(std::string_view input);
void train_config(std::string_view input);
void tokenizer(std::string_view input);
void text_data(std::string_view input);
void parallel_data(std::string_view input);
void bleu(std::string_view input);

// A property the target checks on what the code under test returned (a round
// trip, a documented bound) does not hold: a bug, never the input's fault.
struct InvariantViolation : std::logic_error {
  using std::logic_error::logic_error;
};

#define TFM_FUZZ_EXPECT(cond, ...) \
  do {                             \
    if (!(cond)) throw ::tfm::fuzz::InvariantViolation(::tfm::detail::concat("fuzz invariant: ", __VA_ARGS__)); \
  } while (0)

// The readers take paths: the input goes to a file of this process's scratch
// directory, removed when the process ends normally: $TFM_FUZZ_SCRATCH, which
// the caller gives each process to itself (scripts/fuzz.sh: one per target, a
// fixed path, so that error messages quoting it are the same in every run and
// a seeded run repeats), else tfm-fuzz-<pid> in /dev/shm or the temp directory.
class Scratch {
 public:
  static Scratch& get() {
    static Scratch s;
    return s;
  }
  std::string write(const std::string& name, std::string_view bytes) {
    const std::string path = (dir_ / name).string();
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    out.close();
    if (!out) throw std::runtime_error("fuzz: cannot write " + path);
    return path;
  }
  ~Scratch() {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

 private:
  Scratch() {
    namespace fs = std::filesystem;
    std::error_code ec;
    const char* env = std::getenv("TFM_FUZZ_SCRATCH");
    if (env != nullptr && *env != '\0') {
      dir_ = env;
    } else {
      const fs::path base = fs::is_directory("/dev/shm", ec) ? fs::path("/dev/shm") : fs::temp_directory_path();
      dir_ = base / ("tfm-fuzz-" + std::to_string(::getpid()));
    }
    fs::create_directories(dir_);
  }
  std::filesystem::path dir_;
};

inline std::string scratch_file(const std::string& name, std::string_view bytes) {
  return Scratch::get().write(name, bytes);
}

// Reads parameters off the front of the input (a missing byte reads as 0), so
// that the fuzzer mutates them together with the data that follows.
class Params {
 public:
  explicit Params(std::string_view input) : rest_(input) {}
  uint8_t byte() {
    if (rest_.empty()) return 0;
    const auto b = static_cast<uint8_t>(rest_.front());
    rest_.remove_prefix(1);
    return b;
  }
  uint32_t u16() { return byte() | (uint32_t{byte()} << 8); }
  std::string_view rest() const { return rest_; }

 private:
  std::string_view rest_;
};

// Splits at the first `separator`; without one, the second part is empty.
inline std::pair<std::string_view, std::string_view> split_once(std::string_view s, std::string_view separator) {
  const size_t at = s.find(separator);
  if (at == std::string_view::npos) return {s, {}};
  return {s.substr(0, at), s.substr(at + separator.size())};
}

}  // namespace tfm::fuzz

#ifdef TFM_FUZZ_LIBFUZZER
#define TFM_FUZZ_TARGET(function)                                           \
  extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) { \
    try {                                                                   \
      function(std::string_view(reinterpret_cast<const char*>(data), size)); \
    } catch (const ::tfm::Error&) {                                         \
    }                                                                       \
    return 0;                                                               \
  }
#else
#define TFM_FUZZ_TARGET(function)
#endif
