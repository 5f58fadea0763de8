#include "tools/text/tokenizer.h"

#include <algorithm>
#include <map>
#include <sstream>
#include <unordered_map>
#include <unordered_set>

#include "core/error.h"
#include "tools/text/sentencepiece_tokenizer.h"
#include "tools/text/text_files.h"
#include "tools/text/text_reader.h"

namespace tfm {

void validate_utf8(const std::string& s, const std::string& what) {
  size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    int len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    bool ok = len > 0 && i + len <= s.size();
    for (int k = 1; ok && k < len; ++k) ok = (static_cast<unsigned char>(s[i + k]) >> 6) == 0x2;
    // RFC 3629 §4: no overlong forms, no UTF-16 surrogates (U+D800..U+DFFF), nothing above U+10FFFF.
    const unsigned char c1 = ok && len > 1 ? static_cast<unsigned char>(s[i + 1]) : 0;
    if (ok && len == 2) ok = c >= 0xC2;
    if (ok && len == 3) ok = !(c == 0xE0 && c1 < 0xA0) && !(c == 0xED && c1 >= 0xA0);
    if (ok && len == 4) ok = !(c == 0xF0 && c1 < 0x90) && (c < 0xF4 || (c == 0xF4 && c1 < 0x90));
    TFM_CHECK(ok, what, ": invalid UTF-8 at byte offset ", i, " (byte 0x", std::hex, static_cast<int>(c), std::dec,
              "); use the byte tokenizer for binary or non-UTF-8 text");
    i += len;
  }
}

std::vector<std::string> utf8_chars(const std::string& s) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : 4;
    len = std::min(len, s.size() - i);
    out.push_back(s.substr(i, len));
    i += len;
  }
  return out;
}

namespace {

// Calls f(token) for each whitespace-separated word and an "<eos>" after each line; a last
// line without a newline still gets its <eos>. (Line by line: TextSplit::Lines holds.)
template <typename F>
void for_each_word(const std::string& text, F&& f) {
  size_t i = 0;
  const size_t n = text.size();
  while (i < n) {
    size_t eol = text.find('\n', i);
    if (eol == std::string::npos) eol = n;
    size_t j = i;
    while (j < eol) {
      while (j < eol && (text[j] == ' ' || text[j] == '\t' || text[j] == '\r')) ++j;
      size_t k = j;
      while (k < eol && text[k] != ' ' && text[k] != '\t' && text[k] != '\r') ++k;
      if (k > j) f(text.substr(j, k - j));
      j = k;
    }
    f("<eos>");
    i = eol + 1;
  }
}

// Training a tokenizer on a text given whole, or in pieces (Builder::add each, then finish):
// what the builders keep is the vocabulary, not the text.
template <typename Builder>
std::unique_ptr<Tokenizer> build_from(Builder builder, TextReader& reader) {
  reader.rewind();
  TextPiece piece;
  while (reader.next(piece)) {
    try {
      builder.add(piece.text);
    } catch (const Error&) {
      rethrow_at(reader, piece.offset, std::current_exception());
    }
  }
  return builder.finish();
}

template <typename Builder>
std::unique_ptr<Tokenizer> build_from(Builder builder, const std::string& text) {
  builder.add(text);
  return builder.finish();
}

class ByteTokenizer : public Tokenizer {
 public:
  std::string type() const override { return "byte"; }
  TextSplit split() const override { return TextSplit::Bytes; }
  int64_t vocab_size() const override { return 256; }
  std::vector<int32_t> encode(const std::string& text) const override {
    std::vector<int32_t> ids(text.size());
    for (size_t i = 0; i < text.size(); ++i) ids[i] = static_cast<unsigned char>(text[i]);
    return ids;
  }
  std::string decode(const std::vector<int32_t>& ids) const override {
    std::string s;
    for (int32_t id : ids) {
      TFM_CHECK(id >= 0 && id < 256, "byte tokenizer: id ", id, " out of range [0, 256)");
      s.push_back(static_cast<char>(id));
    }
    return s;
  }
  nlohmann::json to_json() const override { return {{"type", "byte"}}; }
};

class CharTokenizer : public Tokenizer {
 public:
  explicit CharTokenizer(std::vector<std::string> vocab) : vocab_(std::move(vocab)) {
    for (size_t i = 0; i < vocab_.size(); ++i) {
      TFM_CHECK(!index_.contains(vocab_[i]), "char tokenizer: duplicate vocabulary entry \"", vocab_[i], "\"");
      index_[vocab_[i]] = static_cast<int32_t>(i);
    }
  }
  std::string type() const override { return "char"; }
  TextSplit split() const override { return TextSplit::CodePoints; }
  int64_t vocab_size() const override { return static_cast<int64_t>(vocab_.size()); }
  std::vector<int32_t> encode(const std::string& text) const override {
    validate_utf8(text, "char tokenizer: input");
    std::vector<int32_t> ids;
    ids.reserve(text.size());
    size_t offset = 0;
    for (const std::string& ch : utf8_chars(text)) {
      auto it = index_.find(ch);
      TFM_CHECK(it != index_.end(), "char tokenizer: character \"", printable(ch), "\" at byte offset ", offset,
                " is not in the vocabulary of ", vocab_.size(), " characters");
      ids.push_back(it->second);
      offset += ch.size();
    }
    return ids;
  }
  std::string decode(const std::vector<int32_t>& ids) const override {
    std::string s;
    for (int32_t id : ids) {
      TFM_CHECK(id >= 0 && id < vocab_size(), "char tokenizer: id ", id, " out of range [0, ", vocab_size(), ")");
      s += vocab_[id];
    }
    return s;
  }
  nlohmann::json to_json() const override { return {{"type", "char"}, {"vocab", vocab_}}; }

 private:
  static std::string printable(const std::string& ch) {
    if (ch.size() == 1 && (static_cast<unsigned char>(ch[0]) < 0x20 || ch[0] == 0x7f)) {
      std::ostringstream os;
      os << "\\x" << std::hex << static_cast<int>(static_cast<unsigned char>(ch[0]));
      return os.str();
    }
    return ch;
  }
  std::vector<std::string> vocab_;
  std::unordered_map<std::string, int32_t> index_;
};

// Whitespace-separated words; every line ends with <eos> (as WikiText's
// convention); words outside the vocabulary become <unk>.
class WordTokenizer : public Tokenizer {
 public:
  explicit WordTokenizer(std::vector<std::string> vocab) : vocab_(std::move(vocab)) {
    for (size_t i = 0; i < vocab_.size(); ++i) index_[vocab_[i]] = static_cast<int32_t>(i);
    TFM_CHECK(index_.contains("<unk>") && index_.contains("<eos>"), "word tokenizer: vocabulary lacks <unk> or <eos>");
    unk_ = index_["<unk>"];
    eos_ = index_["<eos>"];
  }
  std::string type() const override { return "word"; }
  TextSplit split() const override { return TextSplit::Lines; }
  int64_t vocab_size() const override { return static_cast<int64_t>(vocab_.size()); }
  int32_t eos_id() const override { return eos_; }
  std::vector<int32_t> encode(const std::string& text) const override {
    validate_utf8(text, "word tokenizer: input");
    std::vector<int32_t> ids;
    for_each_word(text, [&](const std::string& w) {
      auto it = index_.find(w);
      ids.push_back(it == index_.end() ? unk_ : it->second);
    });
    return ids;
  }
  std::string decode(const std::vector<int32_t>& ids) const override {
    std::string s;
    bool line_start = true;
    for (int32_t id : ids) {
      TFM_CHECK(id >= 0 && id < vocab_size(), "word tokenizer: id ", id, " out of range [0, ", vocab_size(), ")");
      if (id == eos_) {
        s += "\n";
        line_start = true;
        continue;
      }
      if (!line_start) s += " ";
      s += vocab_[id];
      line_start = false;
    }
    return s;
  }
  nlohmann::json to_json() const override { return {{"type", "word"}, {"vocab", vocab_}}; }

 private:
  std::vector<std::string> vocab_;
  std::unordered_map<std::string, int32_t> index_;
  int32_t unk_ = 0, eos_ = 1;
};

// The char vocabulary: the distinct code points, sorted (by their UTF-8 bytes).
class CharVocabBuilder {
 public:
  void add(const std::string& text) {
    validate_utf8(text, "char tokenizer: training text");
    for (std::string& ch : utf8_chars(text)) seen_.insert(std::move(ch));
  }
  std::unique_ptr<Tokenizer> finish() {
    std::vector<std::string> chars(seen_.begin(), seen_.end());
    std::sort(chars.begin(), chars.end());
    TFM_CHECK(!chars.empty(), "char tokenizer: the training text is empty");
    return std::make_unique<CharTokenizer>(std::move(chars));
  }

 private:
  std::unordered_set<std::string> seen_;
};

// The word vocabulary: <unk>, <eos>, then the words by count.
class WordVocabBuilder {
 public:
  explicit WordVocabBuilder(const TokenizerConfig& c) : config_(c) {}
  void add(const std::string& text) {
    validate_utf8(text, "word tokenizer: training text");
    for_each_word(text, [&](const std::string& w) { counts_[w]++; });
  }
  std::unique_ptr<Tokenizer> finish() {
    std::vector<std::pair<std::string, int64_t>> sorted(counts_.begin(), counts_.end());
    // Most frequent first; ties alphabetical, so the vocabulary is deterministic.
    std::sort(sorted.begin(), sorted.end(),
              [](auto& a, auto& b) { return a.second != b.second ? a.second > b.second : a.first < b.first; });
    std::vector<std::string> vocab{"<unk>", "<eos>"};
    for (auto& [w, n] : sorted) {
      if (w == "<unk>" || w == "<eos>") continue;
      if (n < config_.min_freq) break;
      if (config_.vocab_size > 0 && static_cast<int64_t>(vocab.size()) >= config_.vocab_size) break;
      vocab.push_back(w);
    }
    return std::make_unique<WordTokenizer>(std::move(vocab));
  }

 private:
  TokenizerConfig config_;
  std::unordered_map<std::string, int64_t> counts_;
};

}  // namespace

nlohmann::json tokenizer_config_json(const TokenizerConfig& c) {
  return {{"type", c.type}, {"vocab_size", c.vocab_size}, {"min_freq", c.min_freq}, {"model_type", c.model_type},
          {"character_coverage", c.character_coverage}};
}

TokenizerRegistry& tokenizer_registry() {
  static TokenizerRegistry registry("tokenizer");
  return registry;
}

std::unique_ptr<Tokenizer> Tokenizer::train(const TokenizerConfig& c, const std::string& text) {
  return tokenizer_registry().get(c.type, "config: tokenizer.type").factory(c, text);
}

std::unique_ptr<Tokenizer> Tokenizer::train(const TokenizerConfig& c, const std::vector<std::string>& paths,
                                            const std::string& what, const std::function<void(int64_t)>& progress) {
  const TokenizerRegistry::Entry& entry = tokenizer_registry().get(c.type, "config: tokenizer.type");
  if (entry.extra.train_from) {
    TextReader reader(paths, what, TextSplit::Lines);
    reader.on_progress(progress);
    return entry.extra.train_from(c, reader);
  }
  return entry.factory(c, read_texts(paths, what));
}

std::unique_ptr<Tokenizer> Tokenizer::from_json(const nlohmann::json& j) {
  TFM_CHECK(j.is_object() && j.contains("type") && j["type"].is_string(),
            "tokenizer: expected {\"type\": ...}, found ", j.dump().substr(0, 200));
  const std::string type = j["type"].get<std::string>();
  const TokenizerRegistry::Entry& entry = tokenizer_registry().get(type, "tokenizer");
  try {
    return entry.extra.from_json(j);
  } catch (const nlohmann::json::exception& e) {
    TFM_FAIL("tokenizer: malformed ", type, " tokenizer description: ", e.what());
  }
}

namespace {
std::vector<std::string> saved_vocab(const nlohmann::json& j) { return j.at("vocab").get<std::vector<std::string>>(); }

TFM_REGISTER_TOKENIZER(
    "byte", [](const TokenizerConfig&, const std::string&) -> std::unique_ptr<Tokenizer> {
      return std::make_unique<ByteTokenizer>();
    },
    "the 256 byte values (any input, no training)", {},
    TokenizerLoader{[](const nlohmann::json&) -> std::unique_ptr<Tokenizer> { return std::make_unique<ByteTokenizer>(); },
                    [](const TokenizerConfig&, TextReader&) -> std::unique_ptr<Tokenizer> {
                      return std::make_unique<ByteTokenizer>();
                    }});
TFM_REGISTER_TOKENIZER(
    "char", [](const TokenizerConfig&, const std::string& text) { return build_from(CharVocabBuilder(), text); },
    "the UTF-8 code points of the training text", {},
    TokenizerLoader{[](const nlohmann::json& j) -> std::unique_ptr<Tokenizer> {
                      return std::make_unique<CharTokenizer>(saved_vocab(j));
                    },
                    [](const TokenizerConfig&, TextReader& text) { return build_from(CharVocabBuilder(), text); }});
TFM_REGISTER_TOKENIZER(
    "word", [](const TokenizerConfig& c, const std::string& text) { return build_from(WordVocabBuilder(c), text); },
    "whitespace-separated words, <unk> and an <eos> per line",
    {{"vocab_size", "int", "0", "most frequent words kept (0 = all)"}, {"min_freq", "int", "1", "minimum count"}},
    TokenizerLoader{[](const nlohmann::json& j) -> std::unique_ptr<Tokenizer> {
                      return std::make_unique<WordTokenizer>(saved_vocab(j));
                    },
                    [](const TokenizerConfig& c, TextReader& text) { return build_from(WordVocabBuilder(c), text); }});
}  // namespace

}  // namespace tfm
