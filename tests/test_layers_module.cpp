// layers/module: hierarchical parameter names, parameter counts (tied
// parameters once), train/eval propagation, zero_grad, registration errors.
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "autograd/ops.h"
#include "layers/attention.h"
#include "layers/basic.h"
#include "layers/feed_forward.h"
#include "test_util.h"

namespace tfm {
namespace {
using namespace tfm::testing;

// A small GPT-like tree: blocks.{i}.{ln, attn.{q,k,v,out}, ffn.{fc1,fc2}, drop}, ln_f, head.
class Block : public Module {
 public:
  Block() : ln(8), attn(8, 2), ffn(8, 16, Activation::Gelu), drop(0.5f) {
    register_module("ln", ln);
    register_module("attn", attn);
    register_module("ffn", ffn);
    register_module("drop", drop);
  }
  LayerNorm ln;
  MultiHeadAttention attn;
  FeedForward ffn;
  Dropout drop;
};

class Net : public Module {
 public:
  explicit Net(int n) : ln_f(8), head(8, 5, /*bias=*/false) {
    for (int i = 0; i < n; ++i) {
      blocks.push_back(std::make_unique<Block>());
      register_module("blocks." + std::to_string(i), *blocks.back());
    }
    register_module("ln_f", ln_f);
    register_module("head", head);
  }
  std::vector<std::unique_ptr<Block>> blocks;
  LayerNorm ln_f;
  Linear head;
};

TEST(LayersModule, NamesComposeHierarchicallyInRegistrationOrder) {
  Net net(2);
  std::vector<std::string> names;
  for (auto& [name, p] : net.named_parameters()) names.push_back(name);
  std::vector<std::string> expected;
  for (int i = 0; i < 2; ++i) {
    const std::string b = "blocks." + std::to_string(i) + ".";
    for (const char* s : {"ln.weight", "ln.bias", "attn.q.weight", "attn.q.bias", "attn.k.weight", "attn.k.bias",
                          "attn.v.weight", "attn.v.bias", "attn.out.weight", "attn.out.bias", "ffn.fc1.weight",
                          "ffn.fc1.bias", "ffn.fc2.weight", "ffn.fc2.bias"})
      expected.push_back(b + s);
  }
  for (const char* s : {"ln_f.weight", "ln_f.bias", "head.weight"}) expected.push_back(s);
  EXPECT_EQ(names, expected);
  // Names resolve to the members themselves.
  auto params = net.named_parameters();
  EXPECT_EQ(params[2].second, &net.blocks[0]->attn.q.weight);
  EXPECT_EQ(params.back().second, &net.head.weight);
  auto children = net.named_children();
  ASSERT_EQ(children.size(), 4u);
  EXPECT_EQ(children[1].first, "blocks.1");
  EXPECT_EQ(children[1].second, net.blocks[1].get());
}

TEST(LayersModule, ParameterCountSumsElementsAndCountsTiedParametersOnce) {
  Net net(2);
  const int64_t block = 2 * 8 + 4 * (8 * 8 + 8) + (16 * 8 + 16) + (8 * 16 + 8);
  EXPECT_EQ(net.parameter_count(), 2 * block + 2 * 8 + 5 * 8);

  class Tied : public Module {
   public:
    Tied() : emb(5, 8) {
      register_module("emb", emb);
      head_weight = emb.weight;  // same VariableImpl
      register_parameter("head_weight", head_weight);
    }
    Embedding emb;
    Variable head_weight;
  } tied;
  EXPECT_EQ(tied.named_parameters().size(), 2u);
  EXPECT_EQ(tied.parameter_count(), 5 * 8);
}

TEST(LayersModule, TrainAndEvalPropagateToEveryDescendant) {
  Net net(2);
  EXPECT_TRUE(net.training());
  net.eval();
  for (auto& b : net.blocks) {
    EXPECT_FALSE(b->training());
    EXPECT_FALSE(b->attn.training());
    EXPECT_FALSE(b->attn.q.training());
    EXPECT_FALSE(b->drop.training());
  }
  Variable x(random_tensor({3, 8}, 1));
  expect_close(net.blocks[0]->drop(x).data(), x.data(), 0.0f);  // identity in eval
  net.train();
  EXPECT_TRUE(net.blocks[1]->ffn.fc2.training());
  const Tensor y = net.blocks[0]->drop(x).data();
  int zeros = 0;
  for (int64_t i = 0; i < y.numel(); ++i) {
    if (y.at(i) == 0.0f) ++zeros;
    else EXPECT_NEAR(y.at(i), 2.0f * x.data().at(i), 1e-6f);  // inverted dropout scales by 1/(1-p)
  }
  EXPECT_GT(zeros, 0);
  EXPECT_LT(zeros, 24);
}

TEST(LayersModule, ZeroGradClearsEveryParameterGradient) {
  Net net(1);
  Variable x(random_tensor({2, 3, 8}, 2));
  Block& b = *net.blocks[0];
  AttentionMask causal;
  causal.causal = true;
  sum(net.head(b.ffn(b.attn(b.ln(x), causal)))).backward();
  int with_grad = 0;
  for (auto& [name, p] : net.named_parameters()) {
    if (!p->grad().defined()) continue;
    ++with_grad;
    double norm = 0.0;
    for (int64_t i = 0; i < p->numel(); ++i) norm += std::fabs(p->grad().at(i));
    // The key bias shifts every score of a row equally: softmax ignores it.
    if (!name.ends_with("attn.k.bias")) {
      EXPECT_GT(norm, 0.0) << name;
    }
  }
  EXPECT_EQ(with_grad, 15);  // all but ln_f
  net.zero_grad();
  for (auto& [name, p] : net.named_parameters()) {
    if (!p->grad().defined()) continue;
    for (int64_t i = 0; i < p->numel(); ++i) ASSERT_EQ(p->grad().at(i), 0.0f) << name;
  }
}

TEST(LayersModule, RegistrationRejectsDuplicatesAndUndefinedParameters) {
  struct Dup : Module {
    Linear a{2, 2}, b{2, 2};
    Variable w = Variable(Tensor::zeros({2}), true), undefined;
    void add_module(const std::string& n, Module& m) { register_module(n, m); }
    void add_param(const std::string& n, Variable& v) { register_parameter(n, v); }
  } m;
  m.add_module("a", m.a);
  EXPECT_THROW(m.add_module("a", m.b), Error);
  m.add_param("w", m.w);
  EXPECT_TRUE(m.w.requires_grad());
  try {
    m.add_param("w", m.w);
    ADD_FAILURE() << "duplicate parameter accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("duplicate name \"w\""), std::string::npos) << e.what();
  }
  EXPECT_THROW(m.add_param("u", m.undefined), Error);
}

TEST(LayersModule, VisitParametersSeesTheSameNamesAsNamedParameters) {
  Net net(1);
  std::set<std::string> visited;
  net.visit_parameters([&](const std::string& name, Variable& p) {
    visited.insert(name);
    EXPECT_TRUE(p.requires_grad()) << name;
  });
  EXPECT_EQ(visited.size(), net.named_parameters().size());
  EXPECT_TRUE(visited.contains("blocks.0.attn.q.weight"));
}

}  // namespace
}  // namespace tfm
