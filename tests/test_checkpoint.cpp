// models/checkpoint: save → load rebuilds the model bitwise from the file
// alone (config and tokenizer in __metadata__), for the language model and
// the encoder-decoder; mismatched files give errors that name the tensor.
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "models/checkpoint.h"
#include "models/lm.h"
#include "models/transformer.h"
#include "test_util.h"

namespace tfm {
namespace {
using namespace tfm::testing;

const nlohmann::json kLm = {{"type", "lm"},   {"n_layer", 2},  {"n_head", 2},     {"d_model", 8},
                            {"d_ff", 16},     {"seq_len", 5},  {"vocab_size", 7}, {"tie_embeddings", false},
                            {"norm", "post"}, {"dropout", 0.0}, {"attention_window", 3}};
const nlohmann::json kTransformer = {{"type", "transformer"}, {"n_layer", 1},   {"n_head", 2},
                                     {"d_model", 8},          {"d_ff", 16},     {"seq_len", 6},
                                     {"vocab_size", 9},       {"share_embeddings", false}};
const nlohmann::json kTokenizer = {{"type", "byte_bpe"}, {"merges", {"a b", "ab c"}}, {"special", {{"eos", 1}}}};

class Checkpoint : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = ::testing::TempDir() + "tfm_checkpoint_XXXXXX";
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string path(const std::string& name) const { return dir_ + "/" + name; }

  // The model's tensors by name, with `edit` applied, saved with the model's metadata.
  void save_edited(const std::string& file, const Model& model,
                   const std::function<void(std::vector<std::pair<std::string, Tensor>>&)>& edit,
                   std::map<std::string, std::string> metadata = {}) {
    std::vector<std::pair<std::string, Tensor>> tensors;
    for (auto& [name, p] : model.named_parameters()) tensors.emplace_back(name, p->data());
    edit(tensors);
    if (metadata.empty()) metadata = {{"config", model.config().dump()}, {"tokenizer", kTokenizer.dump()}};
    save_safetensors(path(file), tensors, metadata);
  }

  std::string load_error(const std::string& file) {
    try {
      load_checkpoint(path(file));
    } catch (const Error& e) {
      return e.what();
    }
    ADD_FAILURE() << "expected tfm::Error";
    return "";
  }

  std::string dir_;
};

void randomize(Module& m, uint64_t seed) {
  Generator gen(seed);
  for (auto& [name, p] : m.named_parameters()) fill_uniform(p->mutable_data().data(), p->numel(), -1.0f, 1.0f, gen);
}

void expect_bitwise_equal_parameters(const Module& a, const Module& b) {
  auto pa = a.named_parameters(), pb = b.named_parameters();
  ASSERT_EQ(pa.size(), pb.size());
  for (size_t i = 0; i < pa.size(); ++i) {
    EXPECT_EQ(pa[i].first, pb[i].first);
    ASSERT_EQ(pa[i].second->shape(), pb[i].second->shape()) << pa[i].first;
    EXPECT_EQ(std::memcmp(pa[i].second->data().data(), pb[i].second->data().data(), pa[i].second->data().nbytes()), 0)
        << pa[i].first;
  }
}

TEST_F(Checkpoint, LanguageModelRoundTripsBitwiseWithConfigAndTokenizer) {
  std::unique_ptr<Model> model = ModelRegistry::create(kLm);
  randomize(*model, 1);
  save_checkpoint(path("lm.safetensors"), *model, kTokenizer);
  LoadedModel loaded = load_checkpoint(path("lm.safetensors"));
  EXPECT_EQ(loaded.model->type(), "lm");
  EXPECT_EQ(loaded.config, model->config());
  EXPECT_EQ(loaded.model->config(), model->config());
  EXPECT_EQ(loaded.tokenizer, kTokenizer);
  expect_bitwise_equal_parameters(*model, *loaded.model);
  // Same weights, same function.
  auto& a = dynamic_cast<LanguageModel&>(*model);
  auto& b = dynamic_cast<LanguageModel&>(*loaded.model);
  const Tensor ids = random_ids({2, 5}, 7, 2);
  expect_close(b.forward(ids).data(), a.forward(ids).data(), 0.0f);
  // The metadata is plain JSON text under the documented keys.
  const SafetensorsContents raw = load_safetensors(path("lm.safetensors"));
  EXPECT_EQ(nlohmann::json::parse(raw.metadata.at("config")), model->config());
  EXPECT_EQ(nlohmann::json::parse(raw.metadata.at("tokenizer")), kTokenizer);
  EXPECT_NE(raw.find("blocks.1.ffn.fc2.weight"), nullptr);
}

TEST_F(Checkpoint, EncoderDecoderRoundTripsBitwise) {
  std::unique_ptr<Model> model = ModelRegistry::create(kTransformer);
  randomize(*model, 3);
  save_checkpoint(path("mt.safetensors"), *model, kTokenizer);
  LoadedModel loaded = load_checkpoint(path("mt.safetensors"));
  EXPECT_EQ(loaded.model->type(), "transformer");
  EXPECT_EQ(loaded.model->config(), model->config());
  EXPECT_EQ(loaded.tokenizer, kTokenizer);
  expect_bitwise_equal_parameters(*model, *loaded.model);
  const SafetensorsContents raw = load_safetensors(path("mt.safetensors"));
  EXPECT_NE(raw.find("src_emb.weight"), nullptr);
  EXPECT_NE(raw.find("decoder.layers.0.cross_attn.k.weight"), nullptr);
}

TEST_F(Checkpoint, LoadWeightsIntoAnExistingModel) {
  std::unique_ptr<Model> source = ModelRegistry::create(kLm), target = ModelRegistry::create(kLm);
  randomize(*source, 4);
  save_checkpoint(path("w.safetensors"), *source, nlohmann::json());
  load_weights(*target, load_safetensors(path("w.safetensors")), "w.safetensors");
  expect_bitwise_equal_parameters(*source, *target);
  EXPECT_TRUE(load_checkpoint(path("w.safetensors")).tokenizer.is_null());
}

TEST_F(Checkpoint, MismatchedTensorsAreNamed) {
  std::unique_ptr<Model> model = ModelRegistry::create(kLm);
  save_edited("missing.safetensors", *model, [](auto& t) {
    std::erase_if(t, [](auto& e) { return e.first == "blocks.1.attn.v.bias"; });
  });
  const std::string missing = load_error("missing.safetensors");
  EXPECT_CONTAINS(missing, "missing tensor \"blocks.1.attn.v.bias\" (expected F32 [8])");
  EXPECT_CONTAINS(missing, path("missing.safetensors"));

  save_edited("extra.safetensors", *model, [](auto& t) { t.emplace_back("blocks.2.ln1.weight", Tensor::zeros({8})); });
  EXPECT_CONTAINS(load_error("extra.safetensors"), "unexpected tensor \"blocks.2.ln1.weight\" [8] for model type lm");

  save_edited("shape.safetensors", *model, [](auto& t) {
    for (auto& [name, tensor] : t)
      if (name == "head.weight") tensor = Tensor::zeros({8, 8});
  });
  EXPECT_CONTAINS(load_error("shape.safetensors"), "tensor \"head.weight\": expected shape [7, 8], found [8, 8]");

  save_edited("dtype.safetensors", *model, [](auto& t) {
    for (auto& [name, tensor] : t)
      if (name == "ln_f.bias") tensor = Tensor::zeros({8}, DType::I32);
  });
  EXPECT_CONTAINS(load_error("dtype.safetensors"), "tensor \"ln_f.bias\": expected dtype F32, found I32");

  // A config that disagrees with the tensors (d_ff 32 in the file's config, 16 in its tensors).
  nlohmann::json wider = kLm;
  wider["d_ff"] = 32;
  save_edited("config.safetensors", *model, [](auto&) {}, {{"config", wider.dump()}});
  EXPECT_CONTAINS(load_error("config.safetensors"),
                  "tensor \"blocks.0.ffn.fc1.weight\": expected shape [32, 8], found [16, 8]");
}

TEST_F(Checkpoint, MetadataProblemsAreExplained) {
  std::unique_ptr<Model> model = ModelRegistry::create(kLm);
  save_edited("plain.safetensors", *model, [](auto&) {}, {{"format", "pt"}});
  EXPECT_CONTAINS(load_error("plain.safetensors"), "no model config in __metadata__ (not a tfm checkpoint");

  nlohmann::json unknown = kLm;
  unknown["type"] = "gpt";
  save_edited("type.safetensors", *model, [](auto&) {}, {{"config", unknown.dump()}});
  const std::string type = load_error("type.safetensors");
  EXPECT_CONTAINS(type, "unknown model type \"gpt\"");
  EXPECT_CONTAINS(type, "(one of: ");
  EXPECT_CONTAINS(type, "transformer");

  save_edited("json.safetensors", *model, [](auto&) {}, {{"config", "{\"type\": \"lm\",\n \"n_layer\": }"}});
  EXPECT_CONTAINS(load_error("json.safetensors"), path("json.safetensors") + " (__metadata__.config):2:");

  nlohmann::json typo = kLm;
  typo["n_layers"] = 2;
  save_edited("typo.safetensors", *model, [](auto&) {}, {{"config", typo.dump()}});
  EXPECT_CONTAINS(load_error("typo.safetensors"), "unknown key model.n_layers (did you mean model.n_layer?)");

  std::string missing_file = load_error("nothing_here.safetensors");
  EXPECT_CONTAINS(missing_file, "file not found");
}

// A crafted config in a small file must not allocate the model it describes.
TEST_F(Checkpoint, HostileModelSizesFailBeforeAllocating) {
  std::unique_ptr<Model> model = ModelRegistry::create(kLm);
  nlohmann::json huge = kLm;
  huge["n_layer"] = 1000000000;
  save_edited("layers.safetensors", *model, [](auto&) {}, {{"config", huge.dump()}});
  EXPECT_CONTAINS(load_error("layers.safetensors"), "model.n_layer: 1000000000 is out of range [1, 1024]");
  // Every key within its range, together 16 TiB of parameters: bounded by the file's own bytes.
  huge["n_layer"] = 1024;
  huge["d_model"] = 65536;
  huge["d_ff"] = 262144;
  huge["n_head"] = 1024;
  save_edited("wide.safetensors", *model, [](auto&) {}, {{"config", huge.dump()}});
  const std::string e = load_error("wide.safetensors");
  EXPECT_CONTAINS(e, "the model config in __metadata__ needs more memory than the checkpoint's");
  EXPECT_CONTAINS(e, "a tensor of ");
}

}  // namespace
}  // namespace tfm

namespace tfm {
namespace {

TEST_F(Checkpoint, AveragingTakesTheElementwiseMeanAndChecksTheModel) {
  std::vector<std::unique_ptr<Model>> models;
  std::vector<std::string> files;
  for (uint64_t k = 0; k < 3; ++k) {
    models.push_back(ModelRegistry::create(kLm));
    randomize(*models.back(), 10 + k);
    files.push_back(path("c" + std::to_string(k) + ".safetensors"));
    save_checkpoint(files.back(), *models.back(), kTokenizer);
  }
  average_checkpoints(files, path("avg.safetensors"));
  LoadedModel avg = load_checkpoint(path("avg.safetensors"));
  EXPECT_EQ(avg.config, models[0]->config());
  EXPECT_EQ(avg.tokenizer, kTokenizer);
  auto pa = avg.model->named_parameters();
  for (size_t i = 0; i < pa.size(); ++i)
    for (int64_t j = 0; j < pa[i].second->numel(); ++j) {
      double mean = 0.0;
      for (auto& m : models) mean += m->named_parameters()[i].second->data().at(j);
      ASSERT_NEAR(pa[i].second->data().at(j), mean / 3.0, 1e-6) << pa[i].first << " element " << j;
    }
  // A different model is refused, naming the file.
  nlohmann::json other = kLm;
  other["d_model"] = 16;
  other["n_head"] = 2;
  std::unique_ptr<Model> m = ModelRegistry::create(other);
  save_checkpoint(path("other.safetensors"), *m, kTokenizer);
  EXPECT_CONTAINS(error_message([&] { average_checkpoints({files[0], path("other.safetensors")}, path("x.safetensors")); }),
                  "other.safetensors holds a different model config");
}

}  // namespace
}  // namespace tfm
