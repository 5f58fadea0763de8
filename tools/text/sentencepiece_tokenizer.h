#pragma once
// SentencePiece tokenizer (Kudo & Richardson 2018) through libsentencepiece:
// trained on the training text's lines, its serialised model is kept (base64)
// inside the tokenizer JSON, hence inside every checkpoint.
#include <memory>

#include "tools/text/tokenizer.h"

namespace tfm {

std::unique_ptr<Tokenizer> train_sentencepiece(const TokenizerConfig& config, const std::string& text);
// The same on a reader's lines, without the whole text in memory (libsentencepiece keeps a sample).
std::unique_ptr<Tokenizer> train_sentencepiece_from(const TokenizerConfig& config, TextReader& text);
std::unique_ptr<Tokenizer> sentencepiece_from_json(const nlohmann::json& j);

std::string base64_encode(const std::string& bytes);
std::string base64_decode(const std::string& text);

}  // namespace tfm
