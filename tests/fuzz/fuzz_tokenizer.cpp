// Tokenizer::from_json, as checkpoints rebuild their tokenizer. The first byte
// picks what the rest is: even, the tokenizer JSON (parse_json, then
// from_json); odd, a SentencePiece model proto, which goes in as the base64
// "model" of {"type": "sentencepiece"} so that mutations reach the proto
// itself. A tokenizer that loads must encode and decode (or refuse with
// tfm::Error), give ids inside its vocabulary, and rebuild from its to_json().
#include "fuzz.h"
#include "core/config.h"
#include "tools/text/sentencepiece_tokenizer.h"
#include "tools/text/tokenizer.h"

namespace tfm::fuzz {

void tokenizer(std::string_view input) {
  Params params(input);
  const bool proto = params.byte() & 1;
  const std::string rest(params.rest());
  const nlohmann::json j = proto ? nlohmann::json{{"type", "sentencepiece"}, {"model", base64_encode(rest)}}
                                 : parse_json(rest, "fuzz tokenizer");
  const std::unique_ptr<Tokenizer> tok = Tokenizer::from_json(j);
  const int64_t vocab = tok->vocab_size();
  TFM_FUZZ_EXPECT(vocab >= 0, "vocabulary size ", vocab);
  for (const char* text : {"a b\n", "Hello, world.\nZwei Männer 1.5\n", "x"}) {
    std::vector<int32_t> ids;
    try {
      ids = tok->encode(text);
    } catch (const Error&) {
      continue;  // a character outside a char vocabulary
    }
    for (int32_t id : ids) TFM_FUZZ_EXPECT(id >= 0 && id < vocab, "encode gave id ", id, " outside [0, ", vocab, ")");
    tok->decode(ids);
  }
  std::vector<int32_t> all;
  for (int32_t id = 0; id < std::min<int64_t>(vocab, 512); ++id) {
    all.push_back(id);
    tok->piece(id);
  }
  tok->decode(all);
  std::unique_ptr<Tokenizer> again;
  try {
    again = Tokenizer::from_json(tok->to_json());
  } catch (const Error& e) {
    TFM_FUZZ_EXPECT(false, "to_json() of a loaded tokenizer does not load: ", e.what());
  }
  TFM_FUZZ_EXPECT(again->vocab_size() == vocab && again->type() == tok->type() && again->eos_id() == tok->eos_id(),
                  "to_json() does not rebuild the same tokenizer");
}

}  // namespace tfm::fuzz

TFM_FUZZ_TARGET(tfm::fuzz::tokenizer)
