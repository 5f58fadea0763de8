// tools/train/config_help: `tfm help config-keys` is generated from the registries,
// and docs/config.md carries the same text between its marker comments.
#include <set>
#include <string>

#include "layers/head.h"
#include "layers/registry.h"
#include "models/lm.h"
#include "models/model.h"
#include "models/rnn_attention.h"
#include "models/transformer.h"
#include "optim/optimizer.h"
#include "optim/schedule.h"
#include "test_util.h"
#include "tools/train/config_help.h"
#include "tools/text/tokenizer.h"

namespace tfm {
namespace {
using namespace tfm::testing;

// The text between the marker lines (exclusive), or "<markers missing>".
std::string generated_section(const std::string& doc) {
  const std::string begin = std::string(kConfigDocsBegin) + "\n", end = std::string(kConfigDocsEnd) + "\n";
  const size_t b = doc.find(begin);
  const size_t e = b == std::string::npos ? std::string::npos : doc.find(end, b);
  if (e == std::string::npos) return "<markers missing>";
  return doc.substr(b + begin.size(), e - b - begin.size());
}

TEST(ConfigDocs, GeneratedSectionMatchesTheBinary) {
  TempDir dir;
  const ProcessResult r = tfm("help config-keys --markdown", dir.path());
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, config_keys_markdown());
  const std::string doc = slurp(std::string(TFM_SOURCE_DIR) + "/docs/config.md");
  EXPECT_EQ(generated_section(doc), r.out)
      << "docs/config.md's generated section differs from `tfm help config-keys --markdown`; "
         "regenerate it with scripts/gen-config-docs.sh (after building tfm)";
}

TEST(ConfigDocs, GeneratedSectionIsFoundBetweenTheMarkers) {
  const std::string doc = std::string("intro\n") + kConfigDocsBegin + "\n```\nkeys\n```\n" + kConfigDocsEnd + "\nrest\n";
  EXPECT_EQ(generated_section(doc), "```\nkeys\n```\n");
  EXPECT_EQ(generated_section("no markers\n"), "<markers missing>");
}

TEST(ConfigHelp, EveryRegisteredEntryHasItsSection) {
  const std::string help = config_keys_help();
  for (const std::string& type : ModelRegistry::types()) EXPECT_CONTAINS(help, "model (\"type\": \"" + type + "\")");
  for (const char* type : {"lm", "transformer", "rnn-attention"}) EXPECT_CONTAINS(help, std::string("\"") + type + "\"");
  for (const std::string& name : LayerRegistry::names()) EXPECT_CONTAINS(help, "model.ffn (\"type\": \"" + name + "\")");
  for (const std::string& name : head_registry().names()) EXPECT_CONTAINS(help, "model.head (\"type\": \"" + name + "\")");
  EXPECT_CONTAINS(help, "  cutoffs           [int]   required");  // the adaptive head
  for (const std::string& name : tokenizer_registry().names())
    EXPECT_CONTAINS(help, "tokenizer (\"type\": \"" + name + "\")");
  for (const std::string& name : optimizer_registry().names()) EXPECT_CONTAINS(help, "optim (\"name\": \"" + name + "\")");
  for (const std::string& name : schedule_registry().names())
    EXPECT_CONTAINS(help, "optim (\"schedule\": \"" + name + "\")");
  EXPECT_CONTAINS(help, "  input_feeding     bool    true");     // rnn-attention
  EXPECT_CONTAINS(help, "  share_embeddings  bool    true");     // transformer
  EXPECT_CONTAINS(help, "  n_decoder_layers  int     n_layer");  // transformer
  EXPECT_CONTAINS(help, "  eval_bleu_sentences int");             // a fixed section
}

// Each model entry documents every key its config writes, so the generated
// docs cannot fall behind a model's parser.
TEST(ConfigHelp, EachModelEntryDeclaresEveryKeyOfItsConfig) {
  const std::map<std::string, nlohmann::json> configs = {
      {"lm", LmConfig::parse({{"type", "lm"}, {"vocab_size", 5}}).to_json()},
      {"transformer", TransformerConfig::parse({{"type", "transformer"}, {"vocab_size", 5}}).to_json()},
      {"rnn-attention", RnnAttentionConfig::parse({{"type", "rnn-attention"}, {"vocab_size", 5}}).to_json()}};
  for (const auto& [type, config] : configs) {
    const ModelTable::Entry& entry = ModelRegistry::table().get(type);
    EXPECT_FALSE(entry.help.empty()) << type;
    for (const auto& [key, value] : config.items()) {
      if (key == "type") continue;
      EXPECT_TRUE(entry.has_key(key)) << "model \"" << type << "\" does not declare key " << key;
    }
  }
}

}  // namespace
}  // namespace tfm
