#pragma once
// tfm::Error and the checks that throw it. The library reports everything a
// user can cause (bad shapes, bad files, bad configs) by throwing tfm::Error
// with what was expected and what was found; it never exits or aborts.
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

namespace tfm {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

// A failure that is not the input's fault (a NaN loss, a full disk, a failed
// MPI call): tools exit 1 on it, and 2 on tfm::Error.
struct RuntimeFailure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

namespace detail {
template <typename... Args>
std::string concat(Args&&... args) {
  std::ostringstream os;
  (os << ... << std::forward<Args>(args));
  return os.str();
}
}  // namespace detail

}  // namespace tfm

// TFM_CHECK(cond, "matmul: inner dims differ: ", a.shape(), " vs ", b.shape())
#define TFM_CHECK(cond, ...)                                   \
  do {                                                         \
    if (!(cond)) [[unlikely]]                                  \
      throw ::tfm::Error(::tfm::detail::concat(__VA_ARGS__));  \
  } while (0)

#define TFM_FAIL(...) throw ::tfm::Error(::tfm::detail::concat(__VA_ARGS__))

// Internal invariants: checked in debug builds only.
#ifdef TFM_DEBUG
#define TFM_DCHECK(cond, ...)                                                     \
  do {                                                                            \
    if (!(cond))                                                                  \
      throw ::tfm::Error(::tfm::detail::concat("internal error at ", __FILE__, ":", \
                                               __LINE__, ": ", __VA_ARGS__));      \
  } while (0)
#else
#define TFM_DCHECK(cond, ...) \
  do {                        \
  } while (0)
#endif
