// core/kernels/attention: blocked attention against an explicit per-head
// computation in double (scores, mask, softmax, weighted sum) for every mask
// kind, with blocks smaller than the sequence; the backward pass against
// central differences of that reference; the block plan's key ranges; dropout.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "core/kernels/attention.h"
#include "test_util.h"

namespace tfm {
namespace {
using namespace tfm::testing;

// Whether query position p of batch entry b may attend to key j (the rule of attention.h).
bool visible(const AttentionDims& d, int64_t b, int64_t p, int64_t j) {
  if (d.key_padding && d.key_padding[b * d.kv_len + j]) return false;
  if (d.causal && j > p) return false;
  if (d.window > 0) {
    if (d.causal && j <= p - d.window) return false;
    if (!d.causal && std::abs(p - j) >= d.window) return false;
  }
  return true;
}

struct Reference {
  std::vector<double> out;      // [batch, q_len, n_head·head_dim]
  std::vector<double> weights;  // [batch, n_head, q_len, kv_len]
};

// Explicit loops in double: s_ij = q_i·k_j/√d_head, masked, softmax (a row with
// nothing visible gets zero weights), o_i = Σ_j p_ij v_j. Q, K, V use the row strides of d.
Reference reference(const std::vector<double>& Q, const std::vector<double>& K, const std::vector<double>& V,
                    const AttentionDims& d) {
  const int64_t H = d.n_head, dh = d.head_dim, width = H * dh;
  Reference r{std::vector<double>(d.batch * d.q_len * width, 0.0),
              std::vector<double>(d.batch * H * d.q_len * d.kv_len, 0.0)};
  for (int64_t b = 0; b < d.batch; ++b)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t i = 0; i < d.q_len; ++i) {
        const int64_t p = d.q_offset + i;
        std::vector<double> s(d.kv_len, 0.0);
        double mx = -1e300;
        bool any = false;
        for (int64_t j = 0; j < d.kv_len; ++j) {
          if (!visible(d, b, p, j)) continue;
          double dot = 0.0;
          for (int64_t c = 0; c < dh; ++c)
            dot += Q[(b * d.q_len + i) * d.ldq + h * dh + c] * K[(b * d.kv_len + j) * d.ldk + h * dh + c];
          s[j] = dot / std::sqrt(static_cast<double>(dh));
          mx = std::max(mx, s[j]);
          any = true;
        }
        if (!any) continue;
        double total = 0.0;
        for (int64_t j = 0; j < d.kv_len; ++j) total += visible(d, b, p, j) ? std::exp(s[j] - mx) : 0.0;
        for (int64_t j = 0; j < d.kv_len; ++j) {
          if (!visible(d, b, p, j)) continue;
          const double w = std::exp(s[j] - mx) / total;
          r.weights[((b * H + h) * d.q_len + i) * d.kv_len + j] = w;
          for (int64_t c = 0; c < dh; ++c)
            r.out[(b * d.q_len + i) * width + h * dh + c] += w * V[(b * d.kv_len + j) * d.ldv + h * dh + c];
        }
      }
  return r;
}

std::vector<double> to_double(const Tensor& t) { return std::vector<double>(t.data(), t.data() + t.numel()); }

AttentionDims make_dims(int64_t batch, int64_t n_head, int64_t q_len, int64_t kv_len, int64_t head_dim) {
  AttentionDims d;
  d.batch = batch, d.n_head = n_head, d.q_len = q_len, d.kv_len = kv_len, d.head_dim = head_dim;
  d.ldq = d.ldk = d.ldv = d.ldo = n_head * head_dim;
  return d;
}

// Runs the kernel on random inputs and checks output and dense weights against
// the reference; with check_backward, also dQ, dK, dV against central
// differences of the reference loss Σ G⊙O (G a fixed random tensor), at about
// `samples` elements of each.
void check_case(const AttentionDims& d, uint64_t seed, bool check_backward = true, int64_t samples = 250) {
  SCOPED_TRACE(::testing::Message() << "batch=" << d.batch << " n_head=" << d.n_head << " q_len=" << d.q_len
                                    << " kv_len=" << d.kv_len << " causal=" << d.causal << " window=" << d.window
                                    << " q_offset=" << d.q_offset << " block_q=" << d.block_q);
  const int64_t width = d.n_head * d.head_dim;
  Tensor Q = random_tensor({d.batch, d.q_len, d.ldq}, seed, -1.5f, 1.5f);
  Tensor K = random_tensor({d.batch, d.kv_len, d.ldk}, seed + 1, -1.5f, 1.5f);
  Tensor V = random_tensor({d.batch, d.kv_len, d.ldv}, seed + 2);
  const AttentionPlan plan = attention_plan(d);
  Tensor O = Tensor::empty({d.batch, d.q_len, d.ldo});
  Tensor P = Tensor::empty({plan.p_numel(d)});
  attention_forward(O.data(), P.data(), Q.data(), K.data(), V.data(), d, plan);
  Tensor dense = Tensor::empty({d.batch, d.n_head, d.q_len, d.kv_len});
  attention_dense_weights(dense.data(), P.data(), d, plan);

  std::vector<double> q = to_double(Q), k = to_double(K), v = to_double(V);
  const Reference ref = reference(q, k, v, d);
  for (int64_t r = 0; r < d.batch * d.q_len; ++r)
    for (int64_t c = 0; c < width; ++c)
      ASSERT_NEAR(O.at(r * d.ldo + c), ref.out[r * width + c], 2e-5) << "output row " << r << " column " << c;
  for (int64_t i = 0; i < dense.numel(); ++i) ASSERT_NEAR(dense.at(i), ref.weights[i], 2e-6) << "weight " << i;
  if (!check_backward) return;

  Tensor G = random_tensor({d.batch, d.q_len, d.ldo}, seed + 3);
  Tensor dQ = Tensor::zeros(Q.shape()), dK = Tensor::zeros(K.shape()), dV = Tensor::zeros(V.shape());
  attention_backward(dQ.data(), dK.data(), dV.data(), G.data(), P.data(), Q.data(), K.data(), V.data(), d, plan);
  {
    // Without stored weights (P null) the forward pass gives the same output and
    // the backward pass, recomputing each block's weights, the same gradients.
    Tensor O2 = Tensor::empty(O.shape());
    attention_forward(O2.data(), nullptr, Q.data(), K.data(), V.data(), d, plan);
    Tensor dQ2 = Tensor::zeros(Q.shape()), dK2 = Tensor::zeros(K.shape()), dV2 = Tensor::zeros(V.shape());
    attention_backward(dQ2.data(), dK2.data(), dV2.data(), G.data(), nullptr, Q.data(), K.data(), V.data(), d, plan);
    for (int64_t r = 0; r < d.batch * d.q_len; ++r)
      for (int64_t c = 0; c < width; ++c) ASSERT_EQ(O2.at(r * d.ldo + c), O.at(r * d.ldo + c)) << "recompute output";
    for (int64_t i = 0; i < dQ.numel(); ++i) ASSERT_EQ(dQ2.at(i), dQ.at(i)) << "recompute dQ " << i;
    for (int64_t i = 0; i < dK.numel(); ++i) ASSERT_EQ(dK2.at(i), dK.at(i)) << "recompute dK " << i;
    for (int64_t i = 0; i < dV.numel(); ++i) ASSERT_EQ(dV2.at(i), dV.at(i)) << "recompute dV " << i;
  }
  auto loss = [&] {
    const Reference r = reference(q, k, v, d);
    double l = 0.0;
    for (int64_t row = 0; row < d.batch * d.q_len; ++row)
      for (int64_t c = 0; c < width; ++c) l += G.at(row * d.ldo + c) * r.out[row * width + c];
    return l;
  };
  struct Input {
    const char* name;
    std::vector<double>* x;
    const Tensor* grad;
  };
  for (const Input& in : {Input{"Q", &q, &dQ}, Input{"K", &k, &dK}, Input{"V", &v, &dV}}) {
    const int64_t n = static_cast<int64_t>(in.x->size());
    const int64_t stride = std::max<int64_t>(1, n / samples) | 1;  // odd: samples every column
    for (int64_t i = 0; i < n; i += stride) {
      const double saved = (*in.x)[i], h = 1e-5;
      (*in.x)[i] = saved + h;
      const double lp = loss();
      (*in.x)[i] = saved - h;
      const double lm = loss();
      (*in.x)[i] = saved;
      const double numeric = (lp - lm) / (2 * h);
      ASSERT_NEAR(in.grad->at(i), numeric, 1e-4 + 1e-3 * std::fabs(numeric)) << "d" << in.name << " element " << i;
    }
  }
}

TEST(AttentionKernel, GlobalMatchesReferenceOnOddSizes) {
  AttentionDims d = make_dims(2, 3, 7, 7, 4);  // d_model 12, 3 heads
  check_case(d, 10);
}

TEST(AttentionKernel, CausalMatchesReference) {
  AttentionDims d = make_dims(2, 3, 13, 13, 4);
  d.causal = true;
  check_case(d, 20);
  d.block_q = 4;  // several blocks, each with its own key range
  check_case(d, 21);
}

TEST(AttentionKernel, KeyPaddingMatchesReferenceAndFullyPaddedRowsAreZero) {
  AttentionDims d = make_dims(3, 3, 6, 6, 4);
  // Batch 0: no padding; 1: last three keys padded; 2: every key padded.
  std::vector<int32_t> pad{0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1};
  d.key_padding = pad.data();
  check_case(d, 30);
  d.causal = true;
  pad = {1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1};  // batch 0, query 0 sees only padding
  d.key_padding = pad.data();
  check_case(d, 31);

  Tensor Q = random_tensor({3, 6, 12}, 32), K = random_tensor({3, 6, 12}, 33), V = random_tensor({3, 6, 12}, 34);
  const AttentionPlan plan = attention_plan(d);
  Tensor O = Tensor::full({3, 6, 12}, 7.0f), P = Tensor::empty({plan.p_numel(d)});
  attention_forward(O.data(), P.data(), Q.data(), K.data(), V.data(), d, plan);
  for (int64_t c = 0; c < 12; ++c) EXPECT_EQ(O.at(c), 0.0f) << "batch 0, query 0";
  for (int64_t i = 2 * 6 * 12; i < 3 * 6 * 12; ++i) EXPECT_EQ(O.at(i), 0.0f) << "fully padded batch entry";
}

TEST(AttentionKernel, CrossAttentionWithDifferentLengthsMatchesReference) {
  AttentionDims d = make_dims(2, 3, 5, 9, 4);
  std::vector<int32_t> pad(2 * 9, 0);
  pad[9 + 7] = pad[9 + 8] = 1;
  d.key_padding = pad.data();
  check_case(d, 40);
  d = make_dims(2, 2, 11, 3, 3);  // more queries than keys
  check_case(d, 41);
  d.window = 2;  // later queries see no key at all
  d.block_q = 4;
  check_case(d, 42);
}

TEST(AttentionKernel, LocalWindowWithSeveralBlocksMatchesReference) {
  AttentionDims d = make_dims(2, 3, 37, 37, 4);
  d.window = 5;
  d.block_q = 8;
  d.causal = true;
  check_case(d, 50);
  d.causal = false;
  check_case(d, 51);
  d.window = 1;  // each query sees only itself
  check_case(d, 52, /*check_backward=*/false);
}

TEST(AttentionKernel, QueryOffsetMatchesReference) {
  // The last 3 positions of a 10-long causal sequence (incremental decoding).
  AttentionDims d = make_dims(2, 3, 3, 10, 4);
  d.causal = true;
  d.q_offset = 7;
  check_case(d, 60);
  d.window = 4;
  d.block_q = 2;
  check_case(d, 61);
  d = make_dims(1, 3, 1, 10, 4);  // one new token
  d.causal = true;
  d.q_offset = 9;
  check_case(d, 62);
}

TEST(AttentionKernel, StridedRowsOfAFusedProjectionMatchReference) {
  // Q, K, V as column ranges of one [B, T, 3·d] buffer, O with a wider stride.
  AttentionDims d = make_dims(2, 3, 7, 7, 4);
  d.ldq = d.ldk = d.ldv = 36;
  d.ldo = 17;
  d.causal = true;
  check_case(d, 70);
}

TEST(AttentionKernel, ProblemLargeEnoughForThreadsMatchesReference) {
  // Above the kernel's serial threshold: blocks spread over the OpenMP threads.
  AttentionDims d = make_dims(2, 4, 70, 70, 8);
  std::vector<int32_t> pad(2 * 70, 0);
  for (int64_t j = 60; j < 70; ++j) pad[70 + j] = 1;
  d.key_padding = pad.data();
  d.causal = true;
  d.block_q = 16;
  check_case(d, 90, true, 40);
  d.causal = false;
  d.window = 9;
  check_case(d, 91, true, 40);
}

TEST(AttentionKernel, WindowCoveringTheSequenceEqualsGlobal) {
  for (bool causal : {false, true}) {
    AttentionDims global = make_dims(2, 3, 9, 9, 4);
    global.causal = causal;
    AttentionDims local = global;
    local.window = 9;
    local.block_q = 4;
    Tensor Q = random_tensor({2, 9, 12}, 80), K = random_tensor({2, 9, 12}, 81), V = random_tensor({2, 9, 12}, 82);
    Tensor out[2];
    int idx = 0;
    for (const AttentionDims* d : {&global, &local}) {
      const AttentionPlan plan = attention_plan(*d);
      Tensor P = Tensor::empty({plan.p_numel(*d)});
      out[idx] = Tensor::empty({2, 9, 12});
      attention_forward(out[idx++].data(), P.data(), Q.data(), K.data(), V.data(), *d, plan);
    }
    expect_close(out[1], out[0], 1e-6f);
  }
}

TEST(AttentionKernel, LocalPlanWidthIsWindowPlusBlockNotSequenceLength) {
  AttentionDims d = make_dims(1, 1, 4096, 4096, 8);
  d.block_q = 32;
  d.window = 16;
  d.causal = true;
  AttentionPlan plan = attention_plan(d);
  EXPECT_EQ(plan.n_blocks, 4096 / 32);
  EXPECT_LE(plan.width, d.window + d.block_q - 1);
  EXPECT_LE(plan.p_numel(d), 4096 * (d.window + d.block_q));
  d.causal = false;  // both sides of each query
  plan = attention_plan(d);
  EXPECT_LE(plan.width, 2 * d.window - 1 + d.block_q - 1);
  d.window = 0;  // global: every block sees every key
  plan = attention_plan(d);
  EXPECT_EQ(plan.width, 4096);
}

TEST(AttentionKernel, BlockKeyRangesCoverTheVisibleKeysAndStayInBounds) {
  struct Case {
    int64_t q_len, kv_len, window, q_offset, block_q;
    bool causal;
  };
  const std::vector<Case> cases{{37, 37, 5, 0, 8, true},  {37, 37, 5, 0, 8, false}, {13, 13, 0, 0, 4, true},
                                {3, 10, 4, 7, 2, true},   {11, 3, 2, 0, 4, false},  {6, 3, 2, 0, 8, true},
                                {10, 3, 2, 0, 64, false}, {5, 9, 0, 0, 2, false},   {4, 4, 2, 20, 2, true}};
  for (const Case& c : cases) {
    AttentionDims d = make_dims(1, 1, c.q_len, c.kv_len, 2);
    d.window = c.window, d.q_offset = c.q_offset, d.block_q = c.block_q, d.causal = c.causal;
    SCOPED_TRACE(::testing::Message() << "q_len=" << c.q_len << " kv_len=" << c.kv_len << " window=" << c.window
                                      << " q_offset=" << c.q_offset << " causal=" << c.causal);
    const AttentionPlan plan = attention_plan(d);
    for (int64_t blk = 0; blk < plan.n_blocks; ++blk) {
      const int64_t k0 = plan.key_begin(d, blk), k1 = plan.key_end(d, blk);
      ASSERT_LE(0, k0);
      ASSERT_LE(k0, k1);
      ASSERT_LE(k1, d.kv_len) << "block " << blk << " reads keys past the end";
      ASSERT_LE(k1 - k0, plan.width);
      for (int64_t i = blk * plan.block_q; i < std::min(d.q_len, (blk + 1) * plan.block_q); ++i)
        for (int64_t j = 0; j < d.kv_len; ++j)
          if (visible(d, 0, d.q_offset + i, j)) {
            ASSERT_TRUE(k0 <= j && j < k1) << "query " << i << " key " << j;
          }
    }
  }
}

TEST(AttentionKernel, DropoutZeroesOrRescalesEachWeightDeterministically) {
  // V = identity per key, so output column j of query i is the dropped weight p_ij·m_ij/(1−p).
  AttentionDims d = make_dims(4, 1, 8, 8, 8);
  d.dropout_p = 0.3f;
  d.dropout_seed = 99;
  d.dropout_first_block = 5;
  d.block_q = 3;
  Tensor Q = random_tensor({4, 8, 8}, 90), K = random_tensor({4, 8, 8}, 91), V = Tensor::zeros({4, 8, 8});
  for (int64_t b = 0; b < 4; ++b)
    for (int64_t j = 0; j < 8; ++j) V.data()[(b * 8 + j) * 8 + j] = 1.0f;
  auto run = [&](const AttentionDims& dims, Tensor* dense) {
    const AttentionPlan plan = attention_plan(dims);
    Tensor P = Tensor::empty({plan.p_numel(dims)}), O = Tensor::empty({4, 8, 8});
    attention_forward(O.data(), P.data(), Q.data(), K.data(), V.data(), dims, plan);
    if (dense) attention_dense_weights(dense->data(), P.data(), dims, plan);
    return O;
  };
  Tensor dense = Tensor::empty({4, 1, 8, 8});
  Tensor O = run(d, &dense);
  int64_t dropped = 0;
  for (int64_t i = 0; i < O.numel(); ++i) {
    const float kept = dense.at(i) / (1.0f - d.dropout_p);
    ASSERT_TRUE(O.at(i) == 0.0f || std::fabs(O.at(i) - kept) < 1e-6f) << "element " << i;
    dropped += O.at(i) == 0.0f;
  }
  EXPECT_GT(dropped, 0.15 * O.numel());
  EXPECT_LT(dropped, 0.45 * O.numel());
  expect_close(run(d, nullptr), O, 0.0f);  // same (seed, first block): same mask
  AttentionDims other = d;
  other.dropout_first_block += attention_dropout_blocks(d);
  Tensor O2 = run(other, nullptr);
  EXPECT_FALSE(std::equal(O.data(), O.data() + O.numel(), O2.data())) << "next blocks gave the same mask";
  EXPECT_EQ(attention_dropout_blocks(d), (4u * 8 * 8 + 3) / 4);
}

std::string plan_error(const AttentionDims& d) {
  try {
    attention_plan(d);
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected tfm::Error";
  return "";
}

TEST(AttentionKernel, PlanRejectsInvalidDims) {
  AttentionDims d = make_dims(1, 2, 4, 4, 3);
  d.window = -1;
  EXPECT_NE(plan_error(d).find("window must be >= 0, found -1"), std::string::npos);
  d = make_dims(1, 2, 4, 4, 3);
  d.dropout_p = 1.0f;
  EXPECT_NE(plan_error(d).find("dropout must be in [0, 1)"), std::string::npos);
  d = make_dims(1, 2, 4, 4, 3);
  d.ldk = 5;
  EXPECT_NE(plan_error(d).find("n_head·head_dim = 6"), std::string::npos);
  d = make_dims(1, 2, 0, 4, 3);
  EXPECT_NE(plan_error(d).find("q_len=0"), std::string::npos);
}

}  // namespace
}  // namespace tfm
