// Text data (tools/data/lm_data.h): file and glob expansion, reading, the train/val
// split, and batches of random windows whose position is just the
// generator's (seed, offset), which exact resume relies on.
#include "tools/data/lm_data.h"
#include "tools/train/task.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <numeric>
#include <set>
#include <string>
#include <vector>

#include "core/error.h"
#include "tools/text/text_files.h"
#include "tools/train/train_config.h"
#include "test_util.h"

namespace tfm {
namespace {
using namespace tfm::testing;

namespace fs = std::filesystem;

std::vector<int32_t> iota_ids(int32_t n, int32_t first) {
  std::vector<int32_t> ids(n);
  std::iota(ids.begin(), ids.end(), first);
  return ids;
}

std::vector<int32_t> ids_of(const Tensor& t) { return std::vector<int32_t>(t.data_i32(), t.data_i32() + t.numel()); }

TEST(DataExpandPaths, GlobsMatchFilesInSortedOrderAndSkipDirectories) {
  TempDir dir;
  dir.file("b.txt", "b");
  dir.file("a.txt", "a");
  dir.file("c.md", "c");
  fs::create_directory(dir.path("sub.txt"));  // a directory the glob matches
  EXPECT_EQ(expand_paths({dir.path("*.txt")}), (std::vector<std::string>{dir.path("a.txt"), dir.path("b.txt")}));
  // Patterns keep their order; plain files pass through.
  EXPECT_EQ(expand_paths({dir.path("c.md"), dir.path("?.txt")}),
            (std::vector<std::string>{dir.path("c.md"), dir.path("a.txt"), dir.path("b.txt")}));
}

TEST(DataExpandPaths, MissingFilesDirectoriesAndEmptyGlobsAreErrorsNamingThem) {
  TempDir dir;
  EXPECT_CONTAINS(error_message([&] { expand_paths({dir.path("nope.txt")}); }), "data file not found: " + dir.path("nope.txt"));
  EXPECT_CONTAINS(error_message([&] { expand_paths({dir.path()}); }),
                  dir.path() + " is a directory, expected a file (or a glob such as");
  EXPECT_CONTAINS(error_message([&] { expand_paths({dir.path("*.txt")}); }), "data: no file matches " + dir.path("*.txt"));
  fs::create_directory(dir.path("only_dirs.txt"));
  EXPECT_CONTAINS(error_message([&] { expand_paths({dir.path("*.txt")}); }), "no file matches");
}

TEST(DataReadTexts, ConcatenatesInOrderAndRejectsEmptyFiles) {
  TempDir dir;
  const std::string a = dir.file("a.txt", "first\n"), b = dir.file("b.txt", "second\n"), e = dir.file("e.txt", "");
  EXPECT_EQ(read_texts({a, b}, "data.train"), "first\nsecond\n");
  EXPECT_EQ(read_texts({b, a}, "data.train"), "second\nfirst\n");
  EXPECT_CONTAINS(error_message([&] { read_texts({a, e}, "data.train"); }), "data.train file " + e + " is empty");
}

TEST(LmData, WindowsAreContiguousWithTargetsShiftedByOne) {
  const int64_t T = 8, B = 16;
  LmData data(iota_ids(100, 0), iota_ids(30, 1000), T);
  EXPECT_EQ(data.train_tokens(), 100);
  EXPECT_EQ(data.val_tokens(), 30);
  Generator gen(42);
  for (bool validation : {false, true}) {
    const Batch batch = data.sample(validation, B, gen);
    ASSERT_EQ(batch.input.shape(), (Shape{B, T}));
    ASSERT_EQ(batch.target.shape(), (Shape{B, T}));
    ASSERT_EQ(batch.input.dtype(), DType::I32);
    const int32_t first = validation ? 1000 : 0, n = validation ? 30 : 100;
    for (int64_t b = 0; b < B; ++b) {
      const int32_t start = batch.input.data_i32()[b * T];
      EXPECT_GE(start, first);
      EXPECT_LE(start + T, first + n - 1);  // the last target is still inside the text
      for (int64_t t = 0; t < T; ++t) {
        EXPECT_EQ(batch.input.data_i32()[b * T + t], start + t);
        EXPECT_EQ(batch.target.data_i32()[b * T + t], start + t + 1);
      }
    }
  }
}

TEST(LmData, EveryStartPositionIsReachable) {
  const int64_t T = 4;
  LmData data(iota_ids(T + 3, 0), iota_ids(T + 1, 0), T);  // starts 0, 1, 2
  Generator gen(7);
  std::set<int32_t> starts;
  for (int i = 0; i < 20; ++i) {
    const Batch batch = data.sample(false, 4, gen);
    for (int64_t b = 0; b < 4; ++b) starts.insert(batch.input.data_i32()[b * T]);
  }
  EXPECT_EQ(starts, (std::set<int32_t>{0, 1, 2}));
  // A text of exactly seq_len + 1 tokens has one window.
  EXPECT_EQ(ids_of(data.sample(true, 2, gen).input), (std::vector<int32_t>{0, 1, 2, 3, 0, 1, 2, 3}));
}

TEST(LmData, BatchesDependOnlyOnTheGeneratorSeedAndOffset) {
  LmData data(iota_ids(500, 0), iota_ids(50, 0), 16);
  Generator a(3);
  data.sample(false, 4, a);
  const uint64_t offset = a.offset();
  EXPECT_GT(offset, 0u);
  const Batch next = data.sample(false, 4, a);
  Generator resumed(3, offset);  // as a resumed run restores it
  EXPECT_EQ(ids_of(data.sample(false, 4, resumed).input), ids_of(next.input));
  EXPECT_EQ(resumed.offset(), a.offset());
  Generator other(4);
  EXPECT_NE(ids_of(data.sample(false, 4, other).input), ids_of(data.sample(false, 4, a).input));
}

TEST(LmData, TextsShorterThanOneSequenceAreErrors) {
  EXPECT_CONTAINS(error_message([] { LmData(iota_ids(16, 0), iota_ids(50, 0), 16); }),
                  "data: the training text has 16 tokens, fewer than one sequence of model.seq_len + 1 = 17");
  EXPECT_CONTAINS(error_message([] { LmData(iota_ids(50, 0), iota_ids(3, 0), 16); }),
                  "the validation text has 3 tokens, fewer than one sequence");
  EXPECT_NO_THROW(LmData(iota_ids(17, 0), iota_ids(17, 0), 16));
}

TEST(LoadLmData, TrainsATokenizerAndHoldsOutTheEndForValidation) {
  TempDir dir;
  std::string text;
  for (int i = 0; i < 100; ++i) text += "line " + std::to_string(i) + "\n";
  const std::string path = dir.file("corpus.txt", text);
  DataConfig data;
  data.train = {path};
  data.val_fraction = 0.1;
  TokenizerConfig tok_config;  // char
  std::unique_ptr<Tokenizer> tokenizer;
  LmData lm = load_lm_data(data, tok_config, tokenizer, 8);
  ASSERT_NE(tokenizer, nullptr);
  EXPECT_EQ(tokenizer->type(), "char");
  const int64_t n = static_cast<int64_t>(text.size());  // ASCII: one token per byte
  EXPECT_EQ(lm.train_tokens(), static_cast<int64_t>(n * 0.9));
  EXPECT_EQ(lm.train_tokens() + lm.val_tokens(), n);
  // The validation windows come from the end of the text.
  Generator gen(1);
  const Batch val = lm.sample(true, 1, gen);
  const std::string window = tokenizer->decode(ids_of(val.input));
  EXPECT_NE(text.find(window, static_cast<size_t>(lm.train_tokens())), std::string::npos) << window;
}

TEST(LoadLmData, UsesValidationFilesAndAGivenTokenizer) {
  TempDir dir;
  const std::string train = dir.file("train.txt", std::string(200, 'a') + "bc\n");
  const std::string val = dir.file("val.txt", std::string(40, 'b') + "\n");
  DataConfig data;
  data.train = {dir.path("*.txt")};  // both files through a glob...
  data.val = {val};                  // ...and one as validation
  TokenizerConfig byte_config;
  byte_config.type = "byte";
  std::unique_ptr<Tokenizer> tokenizer;
  LmData lm = load_lm_data(data, byte_config, tokenizer, 8);
  EXPECT_EQ(tokenizer->type(), "byte");
  EXPECT_EQ(lm.train_tokens(), 203 + 41);
  EXPECT_EQ(lm.val_tokens(), 41);

  // A tokenizer passed in is kept, not retrained: its vocabulary decides.
  TokenizerConfig char_config;
  std::unique_ptr<Tokenizer> given = Tokenizer::train(char_config, "abc\n");
  const Tokenizer* before = given.get();
  data.train = {train};
  load_lm_data(data, char_config, given, 8);
  EXPECT_EQ(given.get(), before);
  const std::string other = dir.file("other.txt", std::string(50, 'z'));
  data.val = {other};
  EXPECT_CONTAINS(error_message([&] { load_lm_data(data, char_config, given, 8); }), "character \"z\" at byte offset 0");
  data.val = {dir.file("empty.txt", "")};
  EXPECT_CONTAINS(error_message([&] { load_lm_data(data, char_config, given, 8); }), "data.val file");
}

}  // namespace
}  // namespace tfm
