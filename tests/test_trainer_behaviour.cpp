// What `tfm train` does to the parameters and what it logs, end to end through
// the real binary on tiny runs (char tokenizer, 1 layer, d_model 16, a few
// steps), checked against formulas written here in double from docs/config.md
// and optim/schedule.h: gradient accumulation equals the big batch, label
// smoothing moves the logged loss exactly as its formula says, weight decay
// reaches exactly the documented parameter groups, the logged learning rate
// follows every schedule (wsd also bounded by max_time), and the recipe
// options (train.ema, train.z_loss, wsd, dropout sites) resume bitwise.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>
#include <random>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "core/config.h"
#include "core/safetensors.h"
#include "test_util.h"

namespace tfm {
namespace {
using namespace tfm::testing;

// Dropout off, one thread, no clipping, SGD at a constant rate: every run differs from another only where a
// test says so.
nlohmann::json tiny_config() {
  return {{"model",
           {{"type", "lm"}, {"n_layer", 1}, {"n_head", 2}, {"d_model", 16}, {"d_ff", 32}, {"seq_len", 14},
            {"tie_embeddings", false}, {"dropout", 0.0}}},
          {"tokenizer", {{"type", "char"}}},
          {"data", {{"train", {"corpus.txt"}}}},
          {"optim", {{"name", "sgd"}, {"lr", 0.5}, {"grad_clip", 0.0}, {"schedule", "constant"}}},
          {"train",
           {{"batch_size", 8}, {"max_steps", 3}, {"eval_every", 1000}, {"eval_batches", 1}, {"log_every", 1},
            {"checkpoint_every", 1000}, {"seed", 7}, {"threads", 1}}}};
}

class TrainerBehaviour : public ::testing::Test {
 protected:
  void SetUp() override { dir_.file("corpus.txt", word_corpus()); }

  // Trains `config` into run directory `run` (extra: more command-line arguments); requires success.
  void train(const nlohmann::json& config, const std::string& run, const std::string& extra = "") {
    dir_.file(run + ".json", config.dump(2));
    const ProcessResult r = tfm("train " + run + ".json --quiet --out " + run + " " + extra, dir_.path());
    ASSERT_EQ(r.code, 0) << "tfm train " << run << " " << extra << "\nstderr: " << r.err;
  }
  std::map<std::string, Tensor> weights(const std::string& run) const {
    std::map<std::string, Tensor> out;
    for (auto& [name, t] : load_safetensors(dir_.path(run + "/checkpoints/last.safetensors")).tensors) out[name] = t;
    return out;
  }
  std::vector<nlohmann::json> metrics(const std::string& run) const {
    std::vector<nlohmann::json> out;
    std::istringstream in(slurp(dir_.path(run + "/metrics.jsonl")));
    std::string line;
    while (std::getline(in, line))
      if (!line.empty()) out.push_back(nlohmann::json::parse(line));
    return out;
  }
  // step → value of `key`, from the metrics lines that have it.
  std::map<int64_t, double> logged(const std::string& run, const std::string& key) const {
    std::map<int64_t, double> out;
    for (auto& m : metrics(run))
      if (m.contains(key)) out[m["step"].get<int64_t>()] = m[key].get<double>();
    return out;
  }

  TempDir dir_;
};

double max_abs_difference(const std::map<std::string, Tensor>& a, const std::map<std::string, Tensor>& b) {
  EXPECT_EQ(a.size(), b.size());
  double worst = 0.0;
  for (auto& [name, ta] : a) {
    const Tensor& tb = b.at(name);
    EXPECT_EQ(ta.shape(), tb.shape()) << name;
    for (int64_t i = 0; i < ta.numel(); ++i)
      worst = std::max(worst, std::fabs(static_cast<double>(ta.at(i)) - static_cast<double>(tb.at(i))));
  }
  return worst;
}

// Gradient accumulation. An LM batch is train.batch_size windows whose offsets are drawn one after the other
// from one counter-based generator (tools/data/lm_data.cpp LmData::sample, tools/data/train_data.h LmTrainData), so the k
// micro-batches of B/k windows of a step are exactly the B windows of one big batch, in order. Every window
// has seq_len targets, so the mean of the k micro-batch means (what grad_accum averages, docs/config.md) is the
// big batch's per-token mean, and the gradients agree up to float32 summation order: each gradient element is
// a sum over 8·14 positions, taken as one sum or as four partial sums, which moves it by a few ulps of its
// magnitude (|g| < 1 here, ulp ≈ 1.2e-7). SGD turns that into lr·Δg ≲ 1e-7 per step, so after 3 steps at
// lr 0.5 the parameters agree to a few 1e-7 at worst (3e-8 observed): the tolerance 1e-6 covers rounding and
// is 100 times smaller than what one different batch does (checked below).
TEST_F(TrainerBehaviour, GradAccumOfKMicroBatchesEqualsOneBatchKTimesLarger) {
  nlohmann::json big = tiny_config();
  train(big, "big");
  nlohmann::json accum = tiny_config();
  accum["train"]["batch_size"] = 2;
  accum["optim"]["grad_accum"] = 4;
  train(accum, "accum");
  nlohmann::json small = tiny_config();
  small["train"]["batch_size"] = 2;
  train(small, "small");

  constexpr double kTolerance = 1e-6;
  const auto w_big = weights("big"), w_accum = weights("accum"), w_small = weights("small");
  ASSERT_FALSE(w_big.empty());
  EXPECT_LE(max_abs_difference(w_big, w_accum), kTolerance);
  // Not equal by accident: a quarter of the batch moves the parameters far more than the tolerance.
  EXPECT_GT(max_abs_difference(w_big, w_small), 100 * kTolerance);

  // The logged loss of a step is the mean over its micro-batches: the big batch's per-token mean.
  const auto loss_big = logged("big", "loss"), loss_accum = logged("accum", "loss"), loss_small = logged("small", "loss");
  ASSERT_EQ(loss_big.size(), 3u);
  ASSERT_EQ(loss_accum.size(), 3u);
  for (auto& [step, loss] : loss_big) {
    EXPECT_NEAR(loss_accum.at(step), loss, 1e-5 * loss) << "step " << step;
    EXPECT_GT(std::fabs(loss_small.at(step) - loss), 1e-3) << "step " << step;
  }
}

// A checkpoint of `run` whose next-token logits are `logits` at every position, whatever the context: ln_f
// with gain 0 outputs its bias e_0, and the untied head's column 0 holds the logits.
void write_constant_logit_checkpoint(const std::string& from, const std::string& to, const std::vector<float>& logits) {
  SafetensorsContents c = load_safetensors(from);
  for (auto& [name, t] : c.tensors) {
    if (name == "ln_f.weight") {
      std::fill_n(t.data(), t.numel(), 0.0f);
    } else if (name == "ln_f.bias") {
      std::fill_n(t.data(), t.numel(), 0.0f);
      t.data()[0] = 1.0f;
    } else if (name == "head.weight") {
      ASSERT_EQ(t.dim(0), static_cast<int64_t>(logits.size()));
      std::fill_n(t.data(), t.numel(), 0.0f);
      for (int64_t j = 0; j < t.dim(0); ++j) t.data()[j * t.dim(1)] = logits[j];
    }
  }
  ASSERT_NE(c.find("head.weight"), nullptr) << from << " has no untied head";
  save_safetensors(to, c.tensors, c.metadata);
}

// Label smoothing (docs/config.md, optim.label_smoothing ε): the training loss of a token with target y is
// (1−ε)·(−log p_y) + ε·mean over the model's V vocabulary entries of (−log p_j) (PyTorch's uniform form, the
// target included); validation loss is the plain NLL. The text repeats "aaaabbc", so every 14-token window's
// targets hold a, b, c exactly 8, 4 and 2 times, and a model with the same logits z at every position has a
// batch NLL and a smoothing term both known in closed form. model.vocab_size 6 > the 3 characters: V is the
// model's. The logged step-1 loss comes before any update.
TEST_F(TrainerBehaviour, LabelSmoothingChangesTheLoggedLossExactlyAsTheDocumentedFormula) {
  std::string text;
  for (int i = 0; i < 300; ++i) text += "aaaabbc";
  dir_.file("corpus.txt", text);
  nlohmann::json config = tiny_config();
  config["model"]["vocab_size"] = 6;
  config["optim"] = {{"name", "adamw"}, {"lr", 0.0}};  // lr 0: the weights stay as loaded
  config["train"]["max_steps"] = 1;
  config["train"]["eval_every"] = 1;
  train(config, "init");
  const std::vector<float> z = {1.0f, -0.5f, 2.0f, 0.3f, -1.2f, 0.7f};  // ids 0, 1, 2 are a, b, c (sorted)
  write_constant_logit_checkpoint(dir_.path("init/checkpoints/last.safetensors"), dir_.path("constant.safetensors"), z);

  const int V = 6;
  double lse = 0.0;
  for (float v : z) lse += std::exp(static_cast<double>(v));
  lse = std::log(lse);
  std::vector<double> nll_of(V);  // −log p_j
  for (int j = 0; j < V; ++j) nll_of[j] = lse - z[j];
  const double counts[3] = {8, 4, 2};
  double nll = 0.0;
  for (int y = 0; y < 3; ++y) nll += counts[y] / 14.0 * nll_of[y];
  double uniform = 0.0;
  for (int j = 0; j < V; ++j) uniform += nll_of[j] / V;

  constexpr double kTolerance = 2e-6;  // float32 log-softmax over 6 logits, mean over 112 rows
  for (double eps : {0.0, 0.3, 1.0}) {
    SCOPED_TRACE(::testing::Message() << "label_smoothing " << eps);
    nlohmann::json c = config;
    c["optim"]["label_smoothing"] = eps;
    const std::string run = "eps" + std::to_string(static_cast<int>(eps * 10));
    train(c, run, "--resume constant.safetensors");
    const double expected = (1.0 - eps) * nll + eps * uniform;
    EXPECT_NEAR(logged(run, "loss").at(1), expected, kTolerance);
    EXPECT_NEAR(logged(run, "val_loss").at(1), nll, kTolerance) << "validation loss is not smoothed";
    if (eps > 0) {
      // The check tells the forms apart: smoothing over the V − 1 non-targets, or over the 3 characters the
      // tokenizer knows, or no smoothing term, would each be far off.
      double excluding = 0.0, characters = 0.0;
      for (int y = 0; y < 3; ++y) {
        excluding += counts[y] / 14.0 * (V * uniform - nll_of[y]) / (V - 1);
        characters += (nll_of[0] + nll_of[1] + nll_of[2]) / 3 * counts[y] / 14.0;
      }
      EXPECT_GT(std::fabs(eps * (excluding - uniform)), 100 * kTolerance);
      EXPECT_GT(std::fabs(eps * (characters - uniform)), 100 * kTolerance);
      EXPECT_GT(std::fabs(eps * (nll - uniform)), 100 * kTolerance);
    }
  }
}

// Weight decay (docs/config.md): matrices decay; biases, LayerNorm parameters and embedding tables do not,
// unless optim.decay_embeddings. After one step from the same weights p0 and the same batch, two runs that
// differ only in weight_decay λ differ by exactly the decay term: −lr·λ·p0 for AdamW (decoupled,
// p ← p·(1 − lr·λ) − lr·adam_step) and for SGD (L2, p ← p − lr·(g + λ·p)); spared parameters are bitwise equal.
// The p0 come from a run with lr 0, which leaves the initial weights untouched.
TEST_F(TrainerBehaviour, WeightDecayReachesExactlyTheDocumentedParameterGroups) {
  // The groups, by name, from the documented rule and models/lm.h's parameter names.
  enum class Group { Matrix, Bias, LayerNorm, Embedding };
  auto group_of = [](const std::string& name) {
    if (name == "tok_emb.weight" || name == "pos_emb.weight") return Group::Embedding;
    if (name.starts_with("ln_f.") || name.find(".ln1.") != std::string::npos ||
        name.find(".ln2.") != std::string::npos)
      return Group::LayerNorm;
    if (name.ends_with(".bias")) return Group::Bias;
    return Group::Matrix;
  };
  auto group_name = [](Group g) {
    switch (g) {
      case Group::Matrix: return "matrix";
      case Group::Bias: return "bias";
      case Group::LayerNorm: return "layernorm";
      case Group::Embedding: return "embedding";
    }
    return "?";
  };

  const double lr = 0.01, lambda = 2.0;
  nlohmann::json config = tiny_config();
  config["train"]["max_steps"] = 1;
  config["optim"] = {{"name", "adamw"}, {"lr", 0.0}};
  train(config, "initial");
  const auto p0 = weights("initial");

  for (const std::string optimizer : {"adamw", "sgd"})
    for (const bool decay_embeddings : {false, true}) {
      SCOPED_TRACE(::testing::Message() << optimizer << " decay_embeddings " << decay_embeddings);
      config["optim"] = {{"name", optimizer}, {"lr", lr}, {"decay_embeddings", decay_embeddings}};
      const std::string plain = optimizer + "-plain", decayed = optimizer + "-decayed-" + std::to_string(decay_embeddings);
      if (!decay_embeddings) train(config, plain);
      config["optim"]["weight_decay"] = lambda;
      train(config, decayed);
      const auto a = weights(plain), b = weights(decayed);
      ASSERT_EQ(a.size(), p0.size());

      std::ostringstream report;  // every parameter: its group, and whether it decayed
      bool ok = true;
      std::map<Group, int> seen;
      for (auto& [name, t0] : p0) {
        const Group g = group_of(name);
        ++seen[g];
        const bool should_decay = g == Group::Matrix || (g == Group::Embedding && decay_embeddings);
        if (g == Group::Matrix) {
          EXPECT_EQ(t0.ndim(), 2) << name << " is not a matrix";
        }
        const Tensor &ta = a.at(name), &tb = b.at(name);
        bool decayed_here = false, exact = true;
        for (int64_t i = 0; i < t0.numel(); ++i) {
          const double diff = static_cast<double>(tb.at(i)) - static_cast<double>(ta.at(i));
          const double term = -lr * lambda * static_cast<double>(t0.at(i));
          decayed_here = decayed_here || diff != 0.0;
          // Two float32 roundings of values below 0.1 (≤ 7.5e-9) and the float32 factor 1 − lr·λ.
          const double tol = 2e-8 + 1e-4 * std::fabs(term);
          if (should_decay ? std::fabs(diff - term) > tol : diff != 0.0) exact = false;
        }
        ok = ok && exact;
        report << "  " << name << " [" << group_name(g) << "]: " << (decayed_here ? "decayed" : "spared")
               << (exact ? "" : should_decay ? "  <-- expected exactly -lr*wd*p0" : "  <-- expected no decay") << "\n";
      }
      EXPECT_TRUE(ok) << "parameters:\n" << report.str();
      // The model has every group, so each rule was exercised.
      for (Group g : {Group::Matrix, Group::Bias, Group::LayerNorm, Group::Embedding})
        EXPECT_GT(seen[g], 0) << "no " << group_name(g) << " parameter in\n" << report.str();
    }
}

// The learning rate logged for step s (1-based: the rate that step used), for each schedule of
// optim/schedule.h and docs/config.md, written out here: linear warmup lr·s/w for s ≤ w; then constant: lr;
// cosine (nanoGPT): min_lr + ½(1 + cos(π(s − w)/(D − w)))(lr − min_lr) until D = decay_steps (0: max_steps),
// min_lr after; noam (Vaswani et al. 2017, eq. 3, peak lr at w): lr·min(s/w, √(w/s)), lr/√s without warmup;
// wsd: lr until S = max(w, 0.8·D), then linearly to min_lr at D.
double schedule_lr(const std::string& name, double lr, int64_t s, int64_t w, int64_t D, double min_lr) {
  const double step = static_cast<double>(s), warm = static_cast<double>(w);
  if (name == "noam") return w > 0 ? lr * std::min(step / warm, std::sqrt(warm / step)) : lr / std::sqrt(step);
  if (s <= w) return lr * step / warm;
  if (name == "constant") return lr;
  if (s >= D) return min_lr;
  if (name == "wsd") {  // the default decay_fraction 0.2 and linear shape
    const double start = std::max(warm, 0.8 * static_cast<double>(D));
    return step <= start ? lr : lr - (lr - min_lr) * (step - start) / (static_cast<double>(D) - start);
  }
  return min_lr + 0.5 * (1.0 + std::cos(M_PI * (step - warm) / (static_cast<double>(D) - warm))) * (lr - min_lr);
}

TEST_F(TrainerBehaviour, LoggedLearningRateFollowsEverySchedule) {
  struct Case {
    std::string name;
    int64_t warmup, decay_steps;
    double min_lr;
  };
  const int64_t max_steps = 30;
  const double lr = 0.02;
  for (const Case& c : {Case{"constant", 0, 0, 0.0}, Case{"constant", 7, 0, 0.0}, Case{"cosine", 5, 0, 0.001},
                        Case{"cosine", 4, 20, 0.002}, Case{"cosine", 0, 0, 0.0}, Case{"noam", 8, 0, 0.0},
                        Case{"noam", 0, 0, 0.0}, Case{"wsd", 4, 0, 0.001}, Case{"wsd", 0, 25, 0.0}}) {
    SCOPED_TRACE(::testing::Message() << c.name << " warmup " << c.warmup << " decay_steps " << c.decay_steps
                                      << " min_lr " << c.min_lr);
    nlohmann::json config = tiny_config();
    config["model"]["seq_len"] = 8;
    config["train"]["batch_size"] = 1;
    config["train"]["max_steps"] = max_steps;
    config["optim"] = {{"name", "sgd"},         {"lr", lr},
                       {"schedule", c.name},    {"warmup_steps", c.warmup},
                       {"decay_steps", c.decay_steps}, {"min_lr", c.min_lr}};
    const std::string run = c.name + std::to_string(c.warmup) + "-" + std::to_string(c.decay_steps);
    train(config, run);
    const auto lrs = logged(run, "lr");
    ASSERT_EQ(static_cast<int64_t>(lrs.size()), max_steps);
    const int64_t D = c.decay_steps > 0 ? c.decay_steps : max_steps;
    for (auto& [step, got] : lrs) {
      const double want = schedule_lr(c.name, lr, step, c.warmup, D, c.min_lr);
      EXPECT_NEAR(got, want, 1e-12 * lr) << "step " << step;
    }
  }
}

// wsd bounded by train.max_time, as cosine: decay_steps is derived from the step time measured over the
// first steps (logged, and kept in the state for --resume), and every logged rate follows the wsd formula
// with that length (before the derivation the decay lies beyond any step the run can reach).
TEST_F(TrainerBehaviour, WsdBoundedByMaxTimeDecaysOverTheDerivedLength) {
  nlohmann::json config = tiny_config();
  config["model"]["seq_len"] = 8;
  config["train"]["batch_size"] = 1;
  config["train"]["max_steps"] = 0;
  config["train"]["max_time"] = 3;
  config["optim"] = {{"name", "sgd"}, {"lr", 0.02}, {"schedule", "wsd"}, {"warmup_steps", 4}, {"min_lr", 0.001}};
  train(config, "timed");
  const std::string log = slurp(dir_.path("timed/train.log"));
  const std::smatch m = [&] {
    std::smatch match;
    std::regex_search(log, match, std::regex("schedule: wsd decay over ([0-9]+) steps \\(from max_time 3 s"));
    return match;
  }();
  ASSERT_EQ(m.size(), 2u) << log;
  const int64_t D = std::stoll(m[1].str());
  const SafetensorsContents state = load_safetensors(dir_.path("timed/checkpoints/last.state.safetensors"));
  EXPECT_EQ(nlohmann::json::parse(state.metadata.at("train_state"))["decay_steps"], D);
  const auto lrs = logged("timed", "lr");
  ASSERT_GT(lrs.size(), 10u);
  for (auto& [step, got] : lrs)
    EXPECT_NEAR(got, schedule_lr("wsd", 0.02, step, 4, D, 0.001), 1e-12) << "step " << step << " of " << D;
}

// Same tensor names, shapes and bytes.
void expect_same_tensors(const std::string& a, const std::string& b) {
  const SafetensorsContents ca = load_safetensors(a), cb = load_safetensors(b);
  ASSERT_EQ(ca.tensors.size(), cb.tensors.size()) << a << " vs " << b;
  for (size_t i = 0; i < ca.tensors.size(); ++i) {
    ASSERT_EQ(ca.tensors[i].first, cb.tensors[i].first);
    ASSERT_EQ(ca.tensors[i].second.shape(), cb.tensors[i].second.shape()) << ca.tensors[i].first;
    EXPECT_EQ(std::memcmp(ca.tensors[i].second.raw_data(), cb.tensors[i].second.raw_data(),
                          ca.tensors[i].second.nbytes()), 0)
        << ca.tensors[i].first << " differs: " << a << " vs " << b;
  }
}

// The recipe of issue 15 on a run with dropout, evaluations and checkpoints: AdamW, wsd, z-loss, EMA.
nlohmann::json recipe_config() {
  nlohmann::json config = tiny_config();
  config["model"]["dropout"] = 0.1;
  config["model"]["attention_dropout"] = 0.0;
  // decay_steps given: the first half's max_steps would otherwise become the resolved length its state keeps.
  config["optim"] = {
      {"lr", 0.01}, {"schedule", "wsd"}, {"warmup_steps", 3}, {"decay_steps", 20}, {"decay_fraction", 0.3}};
  config["train"]["max_steps"] = 20;
  config["train"]["eval_every"] = 5;
  config["train"]["checkpoint_every"] = 5;
  config["train"]["z_loss"] = 1e-3;
  config["train"]["ema"] = {{"decay", 0.9}, {"start", 4}};
  return config;
}

// train.ema: the average is part of the training state ("ema.<name>" in last.state.safetensors), so a resumed
// run continues it bitwise; checkpoints/ema.safetensors holds it under the model's tensor names and scores and
// generates as any checkpoint. Dropout, z-loss and wsd ride along: all change what a resume must repeat.
TEST_F(TrainerBehaviour, EmaRunResumesBitwiseAndItsEmaCheckpointScoresAndGenerates) {
  const nlohmann::json config = recipe_config();
  train(config, "straight");
  train(config, "split", "--set train.max_steps=10");
  train(config, "split", "--resume split");
  for (const char* f : {"last.safetensors", "ema.safetensors", "last.state.safetensors", "best.safetensors"})
    expect_same_tensors(dir_.path(std::string("straight/checkpoints/") + f),
                        dir_.path(std::string("split/checkpoints/") + f));
  EXPECT_EQ(logged("straight", "loss"), logged("split", "loss"));
  EXPECT_EQ(logged("straight", "z_loss"), logged("split", "z_loss"));
  EXPECT_EQ(logged("straight", "z_loss").size(), 20u);
  const SafetensorsContents state = load_safetensors(dir_.path("straight/checkpoints/last.state.safetensors"));
  const SafetensorsContents ema = load_safetensors(dir_.path("straight/checkpoints/ema.safetensors"));
  const SafetensorsContents last = load_safetensors(dir_.path("straight/checkpoints/last.safetensors"));
  ASSERT_EQ(ema.tensors.size(), last.tensors.size());
  bool averaged = false;
  for (size_t i = 0; i < ema.tensors.size(); ++i) {
    EXPECT_EQ(ema.tensors[i].first, last.tensors[i].first);
    averaged |= std::memcmp(ema.tensors[i].second.raw_data(), last.tensors[i].second.raw_data(),
                            last.tensors[i].second.nbytes()) != 0;
    bool in_state = false;
    for (auto& [name, t] : state.tensors)
      if (name == "ema." + ema.tensors[i].first)
        in_state = std::memcmp(t.raw_data(), ema.tensors[i].second.raw_data(), t.nbytes()) == 0;
    EXPECT_TRUE(in_state) << "ema." << ema.tensors[i].first;
  }
  EXPECT_TRUE(averaged) << "ema.safetensors holds the weights themselves";
  EXPECT_EQ(ema.metadata.at("config"), last.metadata.at("config"));
  dir_.file("eval.txt", word_corpus().substr(0, 301));
  const ProcessResult ppl = tfm("perplexity straight/checkpoints/ema.safetensors eval.txt --json", dir_.path());
  ASSERT_EQ(ppl.code, 0) << ppl.err;
  EXPECT_EQ(nlohmann::json::parse(ppl.out.substr(ppl.out.rfind('{')))["tokens"], 300);
  const ProcessResult gen = tfm("generate straight/checkpoints/ema.safetensors --prompt 'the ' --tokens 10 --seed 1",
                                dir_.path());
  ASSERT_EQ(gen.code, 0) << gen.err;
  EXPECT_EQ(gen.out.rfind("the ", 0), 0u);
  const nlohmann::json resolved = read_json_file(dir_.path("straight/config.json"));
  EXPECT_EQ(resolved["train"]["ema"], config["train"]["ema"]);
  EXPECT_EQ(resolved["optim"]["decay_fraction"], 0.3);
  EXPECT_EQ(resolved["model"]["attention_dropout"], 0.0);
  EXPECT_EQ(resolved["model"]["residual_dropout"], 0.1);
}

// A run without an average, resumed with train.ema on (a bare decay: from the first step), starts the
// average from the weights it resumes: after one more step, ema = 0.5·w10 + 0.5·w11.
TEST_F(TrainerBehaviour, ResumingWithEmaTurnedOnStartsTheAverageFromTheWeights) {
  nlohmann::json config = tiny_config();
  config["train"]["max_steps"] = 10;
  train(config, "run");
  const SafetensorsContents w10 = load_safetensors(dir_.path("run/checkpoints/last.safetensors"));
  EXPECT_FALSE(std::filesystem::exists(dir_.path("run/checkpoints/ema.safetensors")));
  train(config, "run", "--resume run --set train.max_steps=11 --set train.ema=0.5");
  const SafetensorsContents ema = load_safetensors(dir_.path("run/checkpoints/ema.safetensors"));
  const SafetensorsContents w11 = load_safetensors(dir_.path("run/checkpoints/last.safetensors"));
  ASSERT_EQ(ema.tensors.size(), w10.tensors.size());
  double moved = 0.0;
  for (size_t i = 0; i < ema.tensors.size(); ++i) {
    const Tensor &a = ema.tensors[i].second, &before = w10.tensors[i].second, &after = w11.tensors[i].second;
    for (int64_t k = 0; k < a.numel(); ++k) {
      ASSERT_NEAR(a.at(k), 0.5 * before.at(k) + 0.5 * after.at(k), 1e-6) << ema.tensors[i].first;
      moved += std::fabs(after.at(k) - before.at(k));
    }
  }
  EXPECT_GT(moved, 1e-3);
}

}  // namespace
}  // namespace tfm
