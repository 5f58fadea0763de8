#include "tools/data/train_data.h"

namespace tfm {

Batch slice_rows(Batch b, int64_t first, int64_t last) {
  for (Tensor* t : {&b.input, &b.target, &b.source, &b.source_padding})
    if (t->defined()) *t = t->slice(first, last);
  return b;
}

}  // namespace tfm
