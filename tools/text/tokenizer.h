#pragma once
// Tokenizers: byte (256 ids), char (UTF-8 code points seen in the training
// text), word (whitespace tokens, <unk>, <eos> per line) and sentencepiece
// (BPE or unigram, trained with libsentencepiece). Each serialises to JSON that
// checkpoints carry, so every command works from a checkpoint alone.
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/registry.h"

namespace tfm {

struct TokenizerConfig;
// The config's keys and values, as config.json and token manifests record them.
nlohmann::json tokenizer_config_json(const TokenizerConfig& config);

struct TokenizerConfig {
  std::string type = "char";  // a registered tokenizer: byte | char | word | sentencepiece
  int64_t vocab_size = 0;     // word: keep the most frequent (0: all, subject to min_freq); sentencepiece: required
  int64_t min_freq = 1;       // word
  std::string model_type = "bpe";  // sentencepiece: bpe | unigram
  double character_coverage = 1.0;  // sentencepiece
};

class TextReader;  // tools/text/text_reader.h

// Where a long text may be cut so that encode(a + b) == encode(a) + encode(b) for every cut of
// that kind: what lets tfm read a corpus in pieces (tools/text/text_reader.h), encode them in
// parallel and prepare corpora larger than memory. Lines: right after a '\n'. CodePoints:
// before any UTF-8 code point. Bytes: anywhere. Whole: nowhere (the default, for a tokenizer
// that does not say: its text is then read whole into memory).
enum class TextSplit { Whole, Lines, CodePoints, Bytes };

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;
  virtual std::string type() const = 0;
  virtual int64_t vocab_size() const = 0;
  // Throws tfm::Error for text the tokenizer cannot represent (invalid UTF-8
  // for char/word, a character outside a char vocabulary), naming the byte offset.
  virtual std::vector<int32_t> encode(const std::string& text) const = 0;
  virtual std::string decode(const std::vector<int32_t>& ids) const = 0;
  // One token as the vocabulary spells it (SentencePiece: with its U+2581 word
  // marker), for display; by default its decoded text.
  virtual std::string piece(int32_t id) const { return decode({id}); }
  virtual nlohmann::json to_json() const = 0;
  // Id of the end-of-sentence token, or -1.
  virtual int32_t eos_id() const { return -1; }
  virtual int32_t bos_id() const { return -1; }
  virtual int32_t pad_id() const { return -1; }
  virtual TextSplit split() const { return TextSplit::Whole; }

  static std::unique_ptr<Tokenizer> train(const TokenizerConfig& config, const std::string& text);
  // Trains on the concatenated files: piece by piece where the entry can (its train_from),
  // else on the whole text read into memory. `what` names the files in messages.
  static std::unique_ptr<Tokenizer> train(const TokenizerConfig& config, const std::vector<std::string>& paths,
                                          const std::string& what,
                                          const std::function<void(int64_t bytes_read)>& progress = {});
  static std::unique_ptr<Tokenizer> from_json(const nlohmann::json& j);
};

// Tokenizers by type (core/registry.h): an entry's factory trains one on a text;
// its extra rebuilds one from the JSON that to_json wrote (checkpoints).
// train_from, when set, trains on a TextReader's pieces (TextSplit::Lines, rewound first) without
// holding the whole text, giving the tokenizer the factory gives on the whole text.
struct TokenizerLoader {
  std::function<std::unique_ptr<Tokenizer>(const nlohmann::json& saved)> from_json;
  std::function<std::unique_ptr<Tokenizer>(const TokenizerConfig& config, TextReader& text)> train_from;
};
template <>
struct RegistryExtra<Tokenizer> {
  using type = TokenizerLoader;
};
using TokenizerRegistry = Registry<Tokenizer, const TokenizerConfig&, const std::string&>;  // (config, training text)
TokenizerRegistry& tokenizer_registry();

// Throws tfm::Error naming the byte offset of the first invalid UTF-8 sequence in text.
void validate_utf8(const std::string& text, const std::string& what);
// Splits valid UTF-8 into code point strings.
std::vector<std::string> utf8_chars(const std::string& text);

}  // namespace tfm

// TFM_REGISTER_TOKENIZER("bpe", train, "help line", {keys}, ::tfm::TokenizerLoader{from_json}).
#define TFM_REGISTER_TOKENIZER(...) TFM_REGISTRY_ADD(::tfm::tokenizer_registry(), __VA_ARGS__)
