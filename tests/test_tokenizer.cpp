// Tokenizers (tools/text/tokenizer.h): byte, char, word and sentencepiece
// round-trips, the errors for text a tokenizer cannot represent, the JSON
// description that checkpoints carry, and training on files piece by piece.
#include "tools/text/tokenizer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "core/error.h"
#include "test_util.h"
#include "tools/text/text_reader.h"

namespace tfm {
namespace {
using namespace tfm::testing;

std::unique_ptr<Tokenizer> train(const std::string& type, const std::string& text, int64_t vocab_size = 0,
                                 int64_t min_freq = 1) {
  TokenizerConfig c;
  c.type = type;
  c.vocab_size = vocab_size;
  c.min_freq = min_freq;
  return Tokenizer::train(c, text);
}

// The JSON description rebuilds a tokenizer that encodes and decodes identically.
void expect_json_round_trip(const Tokenizer& tok, const std::string& text) {
  const nlohmann::json j = tok.to_json();
  std::unique_ptr<Tokenizer> back = Tokenizer::from_json(nlohmann::json::parse(j.dump()));
  EXPECT_EQ(back->type(), tok.type());
  EXPECT_EQ(back->vocab_size(), tok.vocab_size());
  EXPECT_EQ(back->to_json(), j);
  EXPECT_EQ(back->eos_id(), tok.eos_id());
  const std::vector<int32_t> ids = tok.encode(text);
  EXPECT_EQ(back->encode(text), ids);
  EXPECT_EQ(back->decode(ids), tok.decode(ids));
}

// Lines of words drawn from a fixed list: a deterministic corpus for the trained tokenizers.
std::string generated_lines(int lines, uint32_t seed) {
  static const std::vector<std::string> words = {"the",   "cat",   "sat",  "on",    "mat",   "a",    "dog",
                                                 "ran",   "far",   "away", "from",  "home",  "and",  "then",
                                                 "came",  "back",  "to",   "sleep", "under", "tree", "sun"};
  std::mt19937 gen(seed);
  std::string text;
  for (int i = 0; i < lines; ++i) {
    const int n = 3 + static_cast<int>(gen() % 8);
    for (int k = 0; k < n; ++k) text += (k ? " " : "") + words[gen() % words.size()];
    text += "\n";
  }
  return text;
}

TEST(ByteTokenizer, RoundTripsArbitraryBytesIncludingInvalidUtf8) {
  std::string text;
  for (int b = 0; b < 256; ++b) text.push_back(static_cast<char>(b));
  text += "\xff\xfe\xc0\xaf\x80 plain \xe2\x82";  // invalid UTF-8 is fine for bytes
  auto tok = train("byte", "");
  EXPECT_EQ(tok->vocab_size(), 256);
  const std::vector<int32_t> ids = tok->encode(text);
  ASSERT_EQ(ids.size(), text.size());
  for (size_t i = 0; i < text.size(); ++i) EXPECT_EQ(ids[i], static_cast<unsigned char>(text[i]));
  EXPECT_EQ(tok->decode(ids), text);
  EXPECT_CONTAINS(error_message([&] { tok->decode({256}); }), "id 256 out of range [0, 256)");
  EXPECT_CONTAINS(error_message([&] { tok->decode({-1}); }), "out of range");
  expect_json_round_trip(*tok, text);
}

TEST(CharTokenizer, RoundTripsMultiByteCharacters) {
  // 1-, 2-, 3- and 4-byte code points.
  const std::string text = "naïve café — 日本語 😀 a\tb\n";
  auto tok = train("char", text);
  const std::vector<std::string> expected = utf8_chars(text);
  const std::vector<int32_t> ids = tok->encode(text);
  ASSERT_EQ(ids.size(), expected.size());  // one id per code point, not per byte
  EXPECT_EQ(tok->decode(ids), text);
  for (size_t i = 0; i < ids.size(); ++i) EXPECT_EQ(tok->decode({ids[i]}), expected[i]);
  // Vocabulary: the distinct code points, in byte order (deterministic).
  std::vector<std::string> distinct = expected;
  std::sort(distinct.begin(), distinct.end());
  distinct.erase(std::unique(distinct.begin(), distinct.end()), distinct.end());
  EXPECT_EQ(tok->vocab_size(), static_cast<int64_t>(distinct.size()));
  EXPECT_EQ(tok->to_json()["vocab"].get<std::vector<std::string>>(), distinct);
  EXPECT_EQ(tok->encode("😀")[0], std::find(distinct.begin(), distinct.end(), "😀") - distinct.begin());
  expect_json_round_trip(*tok, text);
}

TEST(CharTokenizer, CharacterOutsideTheVocabularyIsAnErrorNamingIt) {
  auto tok = train("char", "abc abc\n");
  EXPECT_CONTAINS(error_message([&] { tok->encode("ab€c"); }), "character \"€\" at byte offset 2 is not in the vocabulary");
  EXPECT_CONTAINS(error_message([&] { tok->encode("abcZ"); }), "\"Z\" at byte offset 3");
  // Control characters are shown escaped.
  EXPECT_CONTAINS(error_message([&] { tok->encode("a\x01"); }), "\"\\x1\" at byte offset 1");
  EXPECT_CONTAINS(error_message([&] { tok->decode({5}); }), "id 5 out of range [0, 5)");
  EXPECT_CONTAINS(error_message([&] { train("char", ""); }), "empty");
}

TEST(CharTokenizer, InvalidUtf8IsAnErrorNamingTheByteOffset) {
  auto tok = train("char", "abc\n");
  EXPECT_CONTAINS(error_message([&] { tok->encode("ab\xff" "c"); }), "invalid UTF-8 at byte offset 2");
  EXPECT_CONTAINS(error_message([&] { train("char", "abc\x80"); }), "invalid UTF-8 at byte offset 3");
  EXPECT_CONTAINS(error_message([&] { train("char", "abc\x80"); }), "training text");
}

TEST(TokenizerUtf8, ValidationRejectsEveryKindOfInvalidSequence) {
  struct Case {
    std::string text;
    size_t offset;
  };
  const std::vector<Case> invalid = {
      {"\x80", 0},                  // lone continuation byte
      {"ab\xc3", 2},                // truncated 2-byte sequence at the end
      {"a\xe2\x82z", 1},            // truncated 3-byte sequence
      {"\xc3(", 0},                 // bad continuation byte
      {"\xc0\xaf", 0},              // overlong 2-byte '/'
      {"xy\xe0\x80\xaf", 2},        // overlong 3-byte '/'
      {"\xf0\x80\x80\xaf", 0},      // overlong 4-byte '/'
      {"abc\xed\xa0\x80", 3},       // UTF-16 surrogate U+D800
      {"\xf4\x90\x80\x80", 0},      // above U+10FFFF
      {"\xf5\x80\x80\x80", 0},      // lead byte beyond the range
      {"\xfe", 0},
      {"ok \xff", 3},
  };
  for (const auto& c : invalid) {
    const std::string msg = error_message([&] { validate_utf8(c.text, "test"); });
    EXPECT_CONTAINS(msg, "test: invalid UTF-8 at byte offset " + std::to_string(c.offset));
  }
  // The extremes of each valid length.
  for (const std::string valid : {"\x7f", "\xc2\x80", "\xdf\xbf", "\xe0\xa0\x80", "\xed\x9f\xbf", "\xee\x80\x80",
                                  "\xef\xbf\xbf", "\xf0\x90\x80\x80", "\xf4\x8f\xbf\xbf"})
    EXPECT_NO_THROW(validate_utf8(valid, "test")) << "bytes of length " << valid.size();
}

TEST(WordTokenizer, RoundTripsLinesWithEosAfterEach) {
  const std::string text = "the cat sat\nthe dog ran\n\nthe end\n";
  auto tok = train("word", text);
  const std::vector<int32_t> ids = tok->encode(text);
  const int32_t eos = tok->eos_id();
  ASSERT_GE(eos, 0);
  // 3 + 1, 3 + 1, 0 + 1 (the empty line), 2 + 1.
  ASSERT_EQ(ids.size(), 12u);
  EXPECT_EQ(std::count(ids.begin(), ids.end(), eos), 4);
  EXPECT_EQ(ids[3], eos);
  EXPECT_EQ(ids[7], eos);
  EXPECT_EQ(ids[8], eos);
  EXPECT_EQ(ids.back(), eos);
  EXPECT_EQ(tok->decode(ids), text);
  // A last line without a newline still ends with <eos>; runs of spaces and tabs separate words.
  const std::vector<int32_t> no_newline = tok->encode("the   cat\tsat");
  EXPECT_EQ(no_newline, std::vector<int32_t>(ids.begin(), ids.begin() + 4));
  expect_json_round_trip(*tok, text);
}

TEST(WordTokenizer, UnknownWordsBecomeUnk) {
  auto tok = train("word", "a b c\n");
  const std::vector<int32_t> ids = tok->encode("a zebra c\n");
  ASSERT_EQ(ids.size(), 4u);
  EXPECT_EQ(tok->decode({ids[1]}), "<unk>");
  EXPECT_EQ(tok->decode(ids), "a <unk> c\n");
  EXPECT_CONTAINS(error_message([&] { tok->encode("a \xc3\x28"); }), "invalid UTF-8 at byte offset 2");
  EXPECT_CONTAINS(error_message([&] { train("word", "ok\n\xff"); }), "invalid UTF-8 at byte offset 3");
}

TEST(WordTokenizer, VocabularyIsMostFrequentFirstTiesAlphabeticalAndLimited) {
  // Counts: x 4, b 3, a 3, c 2, d 1.
  const std::string text = "x b a x c\nb a x\nd c a b x\n";
  auto all = train("word", text);
  EXPECT_EQ(all->to_json()["vocab"].get<std::vector<std::string>>(),
            (std::vector<std::string>{"<unk>", "<eos>", "x", "a", "b", "c", "d"}));
  EXPECT_EQ(all->vocab_size(), 7);
  // vocab_size counts <unk> and <eos>.
  auto limited = train("word", text, 4);
  EXPECT_EQ(limited->to_json()["vocab"].get<std::vector<std::string>>(),
            (std::vector<std::string>{"<unk>", "<eos>", "x", "a"}));
  EXPECT_EQ(limited->decode(limited->encode("x b a\n")), "x <unk> a\n");
  auto frequent = train("word", text, 0, 3);
  EXPECT_EQ(frequent->to_json()["vocab"].get<std::vector<std::string>>(),
            (std::vector<std::string>{"<unk>", "<eos>", "x", "a", "b"}));
  // Training twice gives the same vocabulary (no hash-map order leaks out).
  EXPECT_EQ(train("word", generated_lines(50, 3))->to_json(), train("word", generated_lines(50, 3))->to_json());
}

TEST(SentencePieceTokenizer, TrainsATinyBpeModelThatRoundTrips) {
  const std::string text = generated_lines(300, 11);
  TokenizerConfig c;
  c.type = "sentencepiece";
  c.vocab_size = 60;
  c.model_type = "bpe";
  auto tok = Tokenizer::train(c, text);
  EXPECT_EQ(tok->type(), "sentencepiece");
  EXPECT_LE(tok->vocab_size(), 60);
  EXPECT_GT(tok->vocab_size(), 30);
  const std::vector<int32_t> ids = tok->encode(text);
  // Merges make it shorter than one id per character.
  EXPECT_LT(ids.size(), text.size() * 3 / 4);
  for (int32_t id : ids) {
    EXPECT_GE(id, 0);
    EXPECT_LT(id, tok->vocab_size());
  }
  EXPECT_EQ(tok->decode(ids), text);
  // One <eos> per line.
  EXPECT_EQ(std::count(ids.begin(), ids.end(), tok->eos_id()), 300);
  const std::string unseen = "the sun came home\nthe tree\n";
  EXPECT_EQ(tok->decode(tok->encode(unseen)), unseen);
  expect_json_round_trip(*tok, text);
  EXPECT_CONTAINS(error_message([&] { tok->encode("the \xff"); }), "invalid UTF-8 at byte offset 4");
}

TEST(SentencePieceTokenizer, NeedsAVocabularySize) {
  TokenizerConfig c;
  c.type = "sentencepiece";
  EXPECT_CONTAINS(error_message([&] { Tokenizer::train(c, "a b c\n"); }), "tokenizer.vocab_size is required");
}

TEST(TokenizerJson, MalformedDescriptionsAreErrors) {
  EXPECT_CONTAINS(error_message([] { Tokenizer::from_json({{"type", "morse"}}); }), "tokenizer: unknown tokenizer \"morse\" (one of: byte, char, sentencepiece, word)");
  EXPECT_CONTAINS(error_message([] { Tokenizer::from_json(nlohmann::json::array()); }), "expected {\"type\"");
  EXPECT_CONTAINS(error_message([] { Tokenizer::from_json({{"type", "char"}}); }), "malformed char tokenizer");
  EXPECT_CONTAINS(error_message([] { Tokenizer::from_json({{"type", "word"}, {"vocab", {"a", "b"}}}); }),
                  "lacks <unk> or <eos>");
  EXPECT_CONTAINS(error_message([] { Tokenizer::from_json({{"type", "char"}, {"vocab", {"a", "a"}}}); }),
                  "duplicate");
  TokenizerConfig c;
  c.type = "bpe";
  EXPECT_CONTAINS(error_message([&] { Tokenizer::train(c, "abc"); }), "config: tokenizer.type: unknown tokenizer \"bpe\"");
}

// Training on files read in pieces (train_from, what `tfm prepare` does) gives the tokenizer that
// training on the whole text in memory gives, for every tokenizer that learns from its text.
TEST(TokenizerTrainFromFiles, PieceByPieceGivesTheTokenizerOfTheWholeText) {
  TempDir dir;
  const std::string a = generated_lines(200, 7) + "naïve café 日本語 😀\n", b = generated_lines(150, 8) + "no final newline";
  const std::vector<std::string> paths = {dir.file("a.txt", a), dir.file("b.txt", b)};
  std::vector<TokenizerConfig> configs(5);
  configs[0].type = "char";
  configs[1].type = "word";
  configs[2].type = "word";
  configs[2].vocab_size = 9;
  configs[3].type = "word";
  configs[3].min_freq = 40;
  configs[4].type = "sentencepiece";
  configs[4].vocab_size = 40;
  for (const TokenizerConfig& c : configs) {
    const nlohmann::json whole = Tokenizer::train(c, a + b)->to_json();
    // The public entry point (pieces of a megabyte: one here) and pieces of 16 and 53 bytes.
    EXPECT_EQ(Tokenizer::train(c, paths, "data.train")->to_json(), whole) << c.type;
    for (int64_t piece_bytes : {16, 53}) {
      TextReader reader(paths, "data.train", TextSplit::Lines, piece_bytes);
      const auto& entry = tokenizer_registry().get(c.type);
      ASSERT_TRUE(entry.extra.train_from) << c.type;
      EXPECT_EQ(entry.extra.train_from(c, reader)->to_json(), whole) << c.type << ", pieces of " << piece_bytes;
    }
  }
}

TEST(TokenizerTrainFromFiles, InvalidUtf8NamesTheFileAndThePieceItIsIn) {
  TempDir dir;
  const std::string good = dir.file("good.txt", std::string(30, 'a') + "\n");
  const std::string bad = dir.file("bad.txt", "ok\nb\xff\n");
  for (const char* type : {"char", "word", "sentencepiece"}) {
    TokenizerConfig c;
    c.type = type;
    c.vocab_size = std::string(type) == "sentencepiece" ? 20 : 0;
    const std::string msg = error_message([&] { Tokenizer::train(c, {good, bad}, "data.train"); });
    EXPECT_CONTAINS(msg, "data.train: in the text from " + good + ", byte 0");
    EXPECT_CONTAINS(msg, "invalid UTF-8 at byte offset 35");  // 31 bytes of good.txt, then "ok\nb"
  }
}

}  // namespace
}  // namespace tfm
