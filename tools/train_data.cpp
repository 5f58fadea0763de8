#include "tools/train_data.h"

namespace tfm {

Batch slice_rows(Batch b, int64_t first, int64_t last) {
  for (Tensor* t : {&b.input, &b.target, &b.source, &b.source_padding})
    if (t->defined()) *t = t->slice(first, last);
  return b;
}

std::string join_lines(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  std::string out;
  for (const auto* v : {&a, &b})
    for (const auto& line : *v) out += line + "\n";
  return out;
}

}  // namespace tfm
