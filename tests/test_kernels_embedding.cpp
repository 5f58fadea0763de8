// core/kernels/embedding: row gather, scatter-add backward with repeated ids,
// range checks and thread-count independence.
#include <omp.h>

#include <string>
#include <vector>

#include "core/kernels/embedding.h"
#include "test_util.h"

namespace tfm {
namespace {
using namespace tfm::testing;

TEST(Embedding, ForwardCopiesTheRowOfEachId) {
  const int64_t vocab = 13, dim = 7;
  Tensor w = random_tensor({vocab, dim}, 1);
  std::vector<int32_t> ids{12, 0, 5, 5, 3, 12, 7, 1, 0, 11, 2};
  const int64_t n = static_cast<int64_t>(ids.size());
  Tensor out = Tensor::empty({n, dim});
  embedding_forward(out.data(), ids.data(), w.data(), n, vocab, dim);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t c = 0; c < dim; ++c) ASSERT_EQ(out.at(i * dim + c), w.at(ids[i] * dim + c)) << i << "," << c;
}

TEST(Embedding, OutOfRangeIdThrowsNamingIdAndPosition) {
  const int64_t vocab = 5, dim = 3;
  Tensor w = random_tensor({vocab, dim}, 2), out = Tensor::empty({3, dim});
  for (int32_t bad : {5, -1, 1 << 30}) {
    std::vector<int32_t> ids{0, bad, 1};
    try {
      embedding_forward(out.data(), ids.data(), w.data(), 3, vocab, dim);
      ADD_FAILURE() << "no error for id " << bad;
    } catch (const Error& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find(std::to_string(bad)), std::string::npos) << msg;
      EXPECT_NE(msg.find("position 1"), std::string::npos) << msg;
    }
  }
}

// dweight[v] = Σ_{i: ids[i] = v} dout[i], in double.
std::vector<double> backward_ref(const Tensor& dweight0, const Tensor& dout, const std::vector<int32_t>& ids,
                                 int64_t dim) {
  std::vector<double> ref(dweight0.data(), dweight0.data() + dweight0.numel());
  for (size_t i = 0; i < ids.size(); ++i)
    for (int64_t c = 0; c < dim; ++c) ref[ids[i] * dim + c] += dout.at(static_cast<int64_t>(i) * dim + c);
  return ref;
}

TEST(Embedding, BackwardSumsGradientsOfRepeatedIds) {
  const int64_t vocab = 7, dim = 13;
  std::vector<int32_t> ids{3, 3, 0, 6, 3, 0, 2};  // 3 three times, 0 twice; 1, 4, 5 unused
  const int64_t n = static_cast<int64_t>(ids.size());
  Tensor dout = random_tensor({n, dim}, 3);
  Tensor dw = random_tensor({vocab, dim}, 4), dw0 = dw.copy();
  embedding_backward(dw.data(), dout.data(), ids.data(), n, dim);
  std::vector<double> ref = backward_ref(dw0, dout, ids, dim);
  for (int64_t k = 0; k < vocab * dim; ++k) ASSERT_NEAR(dw.at(k), ref[k], 1e-5) << "at " << k;
  for (int64_t row : {1, 4, 5})  // untouched rows keep their accumulated value exactly
    for (int64_t c = 0; c < dim; ++c) ASSERT_EQ(dw.at(row * dim + c), dw0.at(row * dim + c));
}

TEST(Embedding, BackwardIdenticalWithOneAndTwoThreads) {
  // n·dim above the parallel threshold; dim spans several 64-column blocks plus a partial one.
  const int64_t vocab = 33, dim = 200, n = 257;
  Tensor ids_t = random_ids({n}, static_cast<int32_t>(vocab), 5);
  std::vector<int32_t> ids(ids_t.data_i32(), ids_t.data_i32() + n);
  Tensor dout = random_tensor({n, dim}, 6);
  const int saved = omp_get_max_threads();
  std::vector<std::vector<float>> results;
  for (int threads : {1, 2}) {
    omp_set_num_threads(threads);
    Tensor dw = Tensor::zeros({vocab, dim});
    embedding_backward(dw.data(), dout.data(), ids.data(), n, dim);
    results.emplace_back(dw.data(), dw.data() + dw.numel());
  }
  omp_set_num_threads(saved);
  EXPECT_EQ(results[0], results[1]);
  std::vector<double> ref = backward_ref(Tensor::zeros({vocab, dim}), dout, ids, dim);
  for (int64_t k = 0; k < vocab * dim; ++k) ASSERT_NEAR(results[0][k], ref[k], 1e-4) << "at " << k;
}

}  // namespace
}  // namespace tfm
