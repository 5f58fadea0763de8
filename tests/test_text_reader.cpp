// Reading corpora in pieces (tools/text/text_reader.h): the pieces put back
// together are the concatenated files, each cut only where its TextSplit
// allows, and encode_text's ids (pieces encoded in parallel) equal the
// tokenizer's encoding of the whole text, for every built-in tokenizer.
#include "tools/text/text_reader.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "core/checksum.h"
#include "core/parallel.h"
#include "test_util.h"

namespace tfm {
namespace {
using namespace tfm::testing;

// Lines of words with 1- to 4-byte code points, some empty lines, one line far longer than a piece.
std::string mixed_text(int lines, uint32_t seed) {
  static const std::vector<std::string> words = {"the", "cat", "naïve", "café", "—", "日本語", "😀", "a\tb", "end."};
  std::mt19937 gen(seed);
  std::string text;
  for (int i = 0; i < lines; ++i) {
    const int n = static_cast<int>(gen() % 9);  // 0: an empty line
    for (int k = 0; k < n; ++k) text += (k ? " " : "") + words[gen() % words.size()];
    if (i == lines / 2)
      for (int k = 0; k < 40; ++k) text += " word" + std::to_string(k);
    text += "\n";
  }
  return text;
}

struct Corpus {
  TempDir dir;
  std::vector<std::string> paths;
  std::string whole;
  // Three files; the second lacks its final newline, so its last line runs into the third's first.
  Corpus() {
    const std::string a = mixed_text(30, 1), b = mixed_text(20, 2) + "no newline here", c = mixed_text(25, 3);
    paths = {dir.file("a.txt", a), dir.file("b.txt", b), dir.file("c.txt", c)};
    whole = a + b + c;
  }
};

std::vector<TextPiece> all_pieces(TextReader& reader) {
  std::vector<TextPiece> out;
  TextPiece p;
  while (reader.next(p)) out.push_back(p);
  return out;
}

TEST(TextReader, PiecesPutTogetherAreTheConcatenatedFilesCutOnlyWhereTheSplitAllows) {
  Corpus corpus;
  for (TextSplit split : {TextSplit::Lines, TextSplit::CodePoints, TextSplit::Bytes, TextSplit::Whole}) {
    TextReader reader(corpus.paths, "data.train", split, 16);
    EXPECT_EQ(reader.total_bytes(), static_cast<int64_t>(corpus.whole.size()));
    const std::vector<TextPiece> pieces = all_pieces(reader);
    std::string joined;
    for (size_t i = 0; i < pieces.size(); ++i) {
      const TextPiece& p = pieces[i];
      EXPECT_EQ(p.offset, static_cast<int64_t>(joined.size()));
      ASSERT_FALSE(p.text.empty());
      joined += p.text;
      const bool last = i + 1 == pieces.size();
      if (split == TextSplit::Lines && !last) EXPECT_EQ(p.text.back(), '\n') << "piece " << i;
      if (split == TextSplit::Bytes && !last) EXPECT_EQ(p.text.size(), 16u);
      if (split == TextSplit::CodePoints && !last) {
        // The next byte starts a code point (is not 10xxxxxx).
        EXPECT_NE(static_cast<unsigned char>(corpus.whole[joined.size()]) & 0xC0, 0x80) << "piece " << i;
        EXPECT_LE(p.text.size(), 16u);
      }
    }
    EXPECT_EQ(joined, corpus.whole);
    EXPECT_EQ(pieces.size() == 1, split == TextSplit::Whole);
    EXPECT_EQ(reader.bytes_read(), reader.total_bytes());
    // Each file's checksum, computed over the file's own bytes.
    for (size_t f = 0; f < corpus.paths.size(); ++f) {
      const std::string bytes = slurp(corpus.paths[f]);
      EXPECT_EQ(reader.checksums()[f], crc32c(bytes.data(), bytes.size()));
    }
    // A second pass gives the same pieces.
    reader.rewind();
    const std::vector<TextPiece> again = all_pieces(reader);
    ASSERT_EQ(again.size(), pieces.size());
    for (size_t i = 0; i < pieces.size(); ++i) EXPECT_EQ(again[i].text, pieces[i].text);
  }
}

TEST(TextReader, ALineLongerThanAPieceStaysWhole) {
  TempDir dir;
  const std::string long_line = std::string(100, 'x') + "\n";
  TextReader reader({dir.file("t.txt", "ab\n" + long_line + "cd\n")}, "data.train", TextSplit::Lines, 16);
  const std::vector<TextPiece> pieces = all_pieces(reader);
  ASSERT_EQ(pieces.size(), 2u);
  EXPECT_EQ(pieces[0].text, "ab\n");
  EXPECT_EQ(pieces[1].text, long_line + "cd\n");  // read on to the end of the long line, and the block after it
}

TEST(TextReader, MissingAndEmptyFilesAreErrorsNamingThem) {
  TempDir dir;
  const std::string empty = dir.file("empty.txt", "");
  EXPECT_CONTAINS(error_message([&] { TextReader({empty}, "data.val", TextSplit::Lines); }),
                  "data.val file " + empty + " is empty");
  EXPECT_CONTAINS(error_message([&] { TextReader({dir.path("nope.txt")}, "data.val", TextSplit::Lines); }),
                  "data file not found: " + dir.path("nope.txt"));
}

TEST(TextReader, WhereNamesTheFileAndTheByteWithinIt) {
  TempDir dir;
  const std::string a = dir.file("a.txt", "12345"), b = dir.file("b.txt", "678");
  TextReader reader({a, b}, "data.train", TextSplit::Bytes);
  EXPECT_EQ(reader.where(0), a + ", byte 0");
  EXPECT_EQ(reader.where(4), a + ", byte 4");
  EXPECT_EQ(reader.where(5), b + ", byte 0");
  EXPECT_EQ(reader.where(7), b + ", byte 2");
}

std::unique_ptr<Tokenizer> trained(const std::string& type, const std::string& text, int64_t vocab_size = 0) {
  TokenizerConfig c;
  c.type = type;
  c.vocab_size = vocab_size;
  return Tokenizer::train(c, text);
}

TEST(EncodeText, PiecesEncodedInParallelEqualTheWholeTextEncodedAtOnce) {
  Corpus corpus;
  set_num_threads(2);
  std::vector<std::unique_ptr<Tokenizer>> tokenizers;
  tokenizers.push_back(trained("byte", corpus.whole));
  tokenizers.push_back(trained("char", corpus.whole));
  tokenizers.push_back(trained("word", corpus.whole, 12));  // some words become <unk>
  tokenizers.push_back(trained("sentencepiece", corpus.whole, 60));
  for (const auto& tok : tokenizers) {
    const std::vector<int32_t> expected = tok->encode(corpus.whole);
    for (int64_t piece_bytes : {16, 37, 1 << 20}) {
      TextReader reader(corpus.paths, "data.train", tok->split(), piece_bytes);
      std::vector<int32_t> ids;
      int calls = 0;
      encode_text(*tok, reader, [&](const std::vector<int32_t>& part) {
        ids.insert(ids.end(), part.begin(), part.end());
        ++calls;
      });
      EXPECT_EQ(ids, expected) << tok->type() << ", pieces of " << piece_bytes;
      if (piece_bytes == 16) EXPECT_GT(calls, 20) << tok->type();
    }
  }
}

TEST(EncodeText, AnErrorNamesTheFileAndTheByteItsPieceStartsAt) {
  TempDir dir;
  const std::string a = dir.file("a.txt", std::string(40, 'a') + "\n"), b = dir.file("b.txt", "aa\naz\n");
  std::unique_ptr<Tokenizer> tok = trained("char", "a\n");
  TextReader reader({a, b}, "data.val", tok->split(), 16);
  // Pieces of 16 bytes: the third starts at byte 32 of a.txt and runs into b.txt, whose "z" is
  // its byte 13 (a.txt's last 9 bytes, then "aa\na").
  const std::string msg = error_message([&] { encode_text(*tok, reader, [](const std::vector<int32_t>&) {}); });
  EXPECT_CONTAINS(msg, "data.val: in the text from " + a + ", byte 32 (later offsets count from there)");
  EXPECT_CONTAINS(msg, "character \"z\" at byte offset 13");
}

}  // namespace
}  // namespace tfm
