// Prepared language-model data (tools/data/token_cache.h): the prepared tokens
// equal what training always did in memory (the whole text encoded at once)
// for the byte, char, word and sentencepiece tokenizers; a second run finds
// them up to date; every change the manifest guards (a source's size, mtime or
// bytes, the tokenizer, a truncated, foreign or corrupt file, a wrong dtype)
// prepares them again; and random windows from the mapped file are the
// windows of the in-memory ids.
#include "tools/data/token_cache.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "core/config.h"
#include "tools/data/token_manifest.h"
#include "test_util.h"

namespace tfm {
namespace {
using namespace tfm::testing;
namespace fs = std::filesystem;

std::string lines_of_words(int lines, uint32_t seed) {
  static const std::vector<std::string> words = {"the", "cat", "sat", "naïve", "café", "日本語", "😀", "dog", "ran"};
  std::mt19937 gen(seed);
  std::string text;
  for (int i = 0; i < lines; ++i) {
    const int n = static_cast<int>(gen() % 9);
    for (int k = 0; k < n; ++k) text += (k ? " " : "") + words[gen() % words.size()];
    text += "\n";
  }
  return text;
}

struct Fixture {
  TempDir dir;
  std::vector<std::string> train, val;
  std::string train_text, val_text;
  PrepareOptions options;
  Fixture() {
    const std::string a = lines_of_words(150, 1), b = lines_of_words(100, 2) + "no final newline";
    train = {dir.file("a.txt", a), dir.file("b.txt", b)};
    train_text = a + b;
    val_text = lines_of_words(60, 3);
    val = {dir.file("val.txt", val_text)};
    options.cache_dir = dir.path("cache");
    options.piece_bytes = 64;  // many pieces, so that the parallel encoding is exercised
  }
  PreparedLmData prepare(const TokenizerConfig& c, std::unique_ptr<Tokenizer> given = nullptr,
                         bool with_val = true) const {
    return prepare_lm_data(train, with_val ? val : std::vector<std::string>(), c, std::move(given), options);
  }
};

std::vector<int32_t> tokens_of(const PreparedSplit& s) { return TokenSequence(s.file).to_vector(); }

TokenizerConfig config_of(const std::string& type, int64_t vocab_size = 0) {
  TokenizerConfig c;
  c.type = type;
  c.vocab_size = vocab_size;
  return c;
}

TEST(PrepareLmData, PreparedTokensEqualTheWholeTextEncodedInMemory) {
  Fixture f;
  for (const TokenizerConfig& c : {config_of("byte"), config_of("char"), config_of("word", 12),
                                   config_of("sentencepiece", 50)}) {
    // What load_lm_data did before token files: train on the whole text, encode it at once.
    const std::unique_ptr<Tokenizer> reference = Tokenizer::train(c, f.train_text);
    const PreparedLmData p = f.prepare(c);
    EXPECT_TRUE(p.train.built && p.val->built) << c.type;
    EXPECT_EQ(p.tokenizer_origin, "trained on data.train");
    EXPECT_EQ(p.tokenizer->to_json(), reference->to_json()) << c.type;
    EXPECT_EQ(tokens_of(p.train), reference->encode(f.train_text)) << c.type;
    EXPECT_EQ(tokens_of(*p.val), reference->encode(f.val_text)) << c.type;
    EXPECT_EQ(p.train.file->dtype(), TokenDType::U16);
    // Again: up to date, the tokenizer taken from the manifest, nothing rebuilt.
    const PreparedLmData again = f.prepare(c);
    EXPECT_FALSE(again.train.built) << c.type << ": " << again.train.reason;
    EXPECT_FALSE(again.val->built) << c.type;
    EXPECT_EQ(again.tokenizer_origin, "from the cache");
    EXPECT_EQ(again.tokenizer->to_json(), reference->to_json());
    EXPECT_EQ(tokens_of(again.train), reference->encode(f.train_text));
  }
}

// Windows as LmTrainData draws them (tools/data/train_data.h), from the in-memory ids of the
// old load_lm_data and from the mapped files: the same batches, held out or from data.val.
TEST(PrepareLmData, RandomWindowsFromTheMappedFileAreTheInMemoryWindows) {
  Fixture f;
  const TokenizerConfig c = config_of("char");
  const std::unique_ptr<Tokenizer> reference = Tokenizer::train(c, f.train_text);
  std::vector<int32_t> all = reference->encode(f.train_text);
  for (bool with_val : {false, true}) {
    std::vector<int32_t> train = all, val = reference->encode(f.val_text);
    if (!with_val) {  // load_lm_data's held-out end: the first 90% train, the rest validation
      const auto n_train = static_cast<size_t>(static_cast<double>(all.size()) * (1.0 - 0.1));
      val.assign(all.begin() + n_train, all.end());
      train.resize(n_train);
    }
    const LmData in_memory(train, val, 13);
    const LmData mapped = make_lm_data(f.prepare(c, nullptr, with_val), with_val ? 0.0 : 0.1, 13);
    ASSERT_EQ(mapped.train_tokens(), in_memory.train_tokens());
    ASSERT_EQ(mapped.val_tokens(), in_memory.val_tokens());
    for (bool validation : {false, true}) {
      Generator g1(1337, 5), g2(1337, 5);
      for (int step = 0; step < 20; ++step) {
        const Batch a = in_memory.sample(validation, 7, g1), b = mapped.sample(validation, 7, g2);
        ASSERT_EQ(a.input.shape(), b.input.shape());
        ASSERT_TRUE(std::equal(a.input.data_i32(), a.input.data_i32() + a.input.numel(), b.input.data_i32()));
        ASSERT_TRUE(std::equal(a.target.data_i32(), a.target.data_i32() + a.target.numel(), b.target.data_i32()));
      }
      EXPECT_EQ(g1.offset(), g2.offset());
    }
  }
}

std::string manifest_text(const PreparedSplit& s) { return slurp(s.entry.manifest_path); }

// Prepares again and expects a rebuild for `reason`, with the tokens right afterwards.
void expect_rebuilt(const Fixture& f, const TokenizerConfig& c, const std::string& reason) {
  const PreparedLmData p = f.prepare(c);
  EXPECT_TRUE(p.train.built) << "expected a rebuild for: " << reason;
  EXPECT_CONTAINS(p.train.reason, reason);
  const std::unique_ptr<Tokenizer> reference = Tokenizer::train(c, slurp(f.train[0]) + slurp(f.train[1]));
  EXPECT_EQ(tokens_of(p.train), reference->encode(slurp(f.train[0]) + slurp(f.train[1])));
  EXPECT_FALSE(f.prepare(c).train.built) << "after the rebuild for: " << reason;
}

TEST(PrepareLmData, EveryChangeTheManifestGuardsPreparesAgain) {
  Fixture f;
  const TokenizerConfig c = config_of("word");
  PreparedLmData first = f.prepare(c);
  const TokenCacheEntry entry = first.train.entry;
  first = PreparedLmData();  // unmapped
  // A source grows.
  std::ofstream(f.train[1], std::ios::app) << " more";
  expect_rebuilt(f, c, f.train[1] + " changed: ");
  // Only its modification time changes.
  fs::last_write_time(f.train[0], fs::last_write_time(f.train[0]) - std::chrono::hours(1));
  expect_rebuilt(f, c, f.train[0] + " changed: modified at");
  // Same size and time, other bytes: caught while the time is within its granularity of the
  // moment the file was read (so the change could have kept the time).
  std::string text = slurp(f.train[0]);
  char& letter = text[text.find_first_of("abcdefghijklmnopqrstuvwxyz")];  // ASCII: stays valid UTF-8
  letter = letter == 'q' ? 'z' : 'q';
  std::ofstream(f.train[0], std::ios::binary) << text;
  EXPECT_TRUE(f.prepare(c).train.built);
  const auto stamp = fs::last_write_time(f.train[0]);
  letter = letter == 'q' ? 'z' : 'q';
  std::ofstream(f.train[0], std::ios::binary) << text;
  fs::last_write_time(f.train[0], stamp);
  expect_rebuilt(f, c, f.train[0] + " changed: same size and modification time, other bytes");
  // The token file cut short (a torn write), or a byte of it changed.
  fs::resize_file(entry.token_path, fs::file_size(entry.token_path) - 2);
  expect_rebuilt(f, c, "bytes, expected");
  {
    std::fstream t(entry.token_path, std::ios::in | std::ios::out | std::ios::binary);
    t.seekp(100);
    t.put('\x7f');
  }
  expect_rebuilt(f, c, "have checksum");
  // The manifest says uint32 for a vocabulary that fits uint16; then a manifest that is not JSON.
  nlohmann::json m = nlohmann::json::parse(slurp(entry.manifest_path));
  m["dtype"] = "uint32";
  std::ofstream(entry.manifest_path) << m.dump();
  expect_rebuilt(f, c, "dtype uint32 in the manifest, expected uint16 for a vocabulary of");
  std::ofstream(entry.manifest_path) << "{\"format\": \"tfm-tokens\", oops";
  expect_rebuilt(f, c, entry.manifest_path + ":1:");
}

TEST(PrepareLmData, AnotherTokenizerPreparesAgainAndTheCacheKeepsTheOneItTrained) {
  Fixture f;
  PreparedLmData p = f.prepare(config_of("word"));
  const nlohmann::json word_all = p.tokenizer->to_json();
  // Another config: trained again, tokens again.
  p = f.prepare(config_of("word", 8));
  EXPECT_EQ(p.tokenizer_origin, "trained on data.train");
  EXPECT_TRUE(p.train.built);
  EXPECT_CONTAINS(p.train.reason, "the tokenizer differs");
  EXPECT_EQ(p.tokenizer->vocab_size(), 8);
  // A given tokenizer (a resumed run's) decides; the tokens follow it.
  p = f.prepare(config_of("word", 8), Tokenizer::from_json(word_all));
  EXPECT_EQ(p.tokenizer_origin, "given");
  EXPECT_TRUE(p.train.built && p.val->built);
  EXPECT_EQ(p.tokenizer->to_json(), word_all);
  EXPECT_EQ(tokens_of(p.train), p.tokenizer->encode(f.train_text));
  // The manifest keeps no tokenizer that was given: a fresh run with a config trains its own.
  EXPECT_TRUE(nlohmann::json::parse(manifest_text(p.train))["tokenizer"].is_null());
  p = f.prepare(config_of("word"));
  EXPECT_EQ(p.tokenizer_origin, "trained on data.train");
  EXPECT_FALSE(p.train.built);  // the same tokenizer as the given one: its tokens stand
  EXPECT_EQ(f.prepare(config_of("word")).tokenizer_origin, "from the cache");
}

TEST(PrepareLmData, WithoutBuildingAStaleFileIsAnErrorNamingIt) {
  Fixture f;
  PrepareOptions no_build = f.options;
  no_build.build = false;
  const std::string msg = error_message([&] { prepare_lm_data(f.train, {}, config_of("byte"), nullptr, no_build); });
  EXPECT_CONTAINS(msg, "data.train: no tokenizer in ");
  const std::string token_path = f.prepare(config_of("byte")).train.entry.token_path;
  std::ofstream(f.train[0], std::ios::app) << "x";
  EXPECT_CONTAINS(error_message([&] {
                    prepare_lm_data(f.train, {}, config_of("byte"), Tokenizer::train(config_of("byte"), ""), no_build);
                  }),
                  "data.train: the prepared tokens " + token_path + " cannot be used (" + f.train[0] + " changed: ");
}

// A word vocabulary of n entries whose last word ends the text, so the largest id is written.
void expect_dtype_at(int64_t vocab, TokenDType dtype) {
  TempDir dir;
  std::vector<std::string> words = {"<unk>", "<eos>"};
  for (int64_t i = 2; i < vocab; ++i) words.push_back("w" + std::to_string(i));
  const std::string text = "w2 w3\nw" + std::to_string(vocab - 1) + " w7 unknown\n";
  PrepareOptions options;
  options.cache_dir = dir.path("cache");
  const PreparedLmData p = prepare_lm_data({dir.file("t.txt", text)}, {}, config_of("word"),
                                           Tokenizer::from_json({{"type", "word"}, {"vocab", words}}), options);
  EXPECT_EQ(p.train.file->dtype(), dtype) << vocab;
  EXPECT_EQ(tokens_of(p.train), (std::vector<int32_t>{2, 3, 1, static_cast<int32_t>(vocab - 1), 7, 0, 1})) << vocab;
  EXPECT_EQ(static_cast<int64_t>(fs::file_size(p.train.entry.token_path)), 64 + 7 * token_bytes(dtype));
}

TEST(PrepareLmData, Uint16UpToAVocabularyOf65536ThenUint32) {
  expect_dtype_at(65535, TokenDType::U16);
  expect_dtype_at(65536, TokenDType::U16);
  expect_dtype_at(65537, TokenDType::U32);
}

TEST(TokenCacheDir, ConfiguredThenTfmCacheDirThenXdgThenHome) {
  const char* names[] = {"TFM_CACHE_DIR", "XDG_CACHE_HOME", "HOME"};
  std::vector<std::optional<std::string>> saved;
  for (const char* n : names) saved.push_back(std::getenv(n) ? std::optional<std::string>(std::getenv(n)) : std::nullopt);
  ::setenv("TFM_CACHE_DIR", "/t/tfm", 1);
  ::setenv("XDG_CACHE_HOME", "/t/xdg", 1);
  ::setenv("HOME", "/t/home", 1);
  EXPECT_EQ(resolve_token_cache_dir("/data/cache"), "/data/cache");
  EXPECT_EQ(resolve_token_cache_dir("rel"), (fs::current_path() / "rel").string());
  EXPECT_EQ(resolve_token_cache_dir(""), "/t/tfm");
  ::unsetenv("TFM_CACHE_DIR");
  EXPECT_EQ(resolve_token_cache_dir(""), "/t/xdg/tfm/data");
  ::unsetenv("XDG_CACHE_HOME");
  EXPECT_EQ(resolve_token_cache_dir(""), "/t/home/.cache/tfm/data");
  ::unsetenv("HOME");
  EXPECT_CONTAINS(error_message([] { resolve_token_cache_dir(""); }), "set data.cache_dir");
  for (size_t i = 0; i < 3; ++i)
    if (saved[i]) ::setenv(names[i], saved[i]->c_str(), 1);
}

TEST(TokenCacheEntry, NamedAfterTheFirstSourceAndAHashOfAllTheirPaths) {
  const TokenCacheEntry e = token_cache_entry("/c", "train", {"/d/wiki train.txt", "/d/b.txt"});
  EXPECT_EQ(e.token_path.rfind("/c/wiki_train-", 0), 0u) << e.token_path;
  EXPECT_EQ(e.token_path.substr(e.token_path.size() - 13), ".train.tokens");
  EXPECT_EQ(e.manifest_path, e.token_path.substr(0, e.token_path.size() - 7) + ".manifest.json");
  EXPECT_NE(token_cache_entry("/c", "train", {"/d/wiki train.txt"}).token_path, e.token_path);
  EXPECT_NE(token_cache_entry("/c", "val", {"/d/wiki train.txt", "/d/b.txt"}).token_path, e.token_path);
}

}  // namespace
}  // namespace tfm
