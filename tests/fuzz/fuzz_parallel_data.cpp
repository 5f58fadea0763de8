// The parallel-data reader as `tfm train` uses it for encoder-decoders:
// read_lines on a source file and a target file (the input split at its first
// NUL byte), one word tokenizer trained on both sides, pairs encoded with eos,
// and ParallelData's token-count batches. Parameters come off the front:
// max_len, batch_tokens (0: batch_size sentences), batch_size, sort_pool, seed
// and a resume position. Checked: every training batch within the budget
// (rows × the longer side ≤ batch_tokens), consistent shapes and padding, ids
// inside the vocabulary, and that seek(p) gives the batch an uninterrupted
// stream gives after p batches (exact resume).
#include <cstring>

#include "fuzz.h"
#include "tools/text/text_files.h"
#include "tools/data/parallel_data.h"
#include "tools/data/train_data.h"

namespace tfm::fuzz {
namespace {

bool same_tensor(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && std::memcmp(a.raw_data(), b.raw_data(), a.nbytes()) == 0;
}

}  // namespace

void parallel_data(std::string_view input) {
  Params params(input);
  const int64_t max_len = 1 + params.byte() % 32;
  ParallelBatching batching;
  batching.batch_tokens = params.byte();
  const uint8_t sentences = params.byte();
  batching.batch_size = batching.batch_tokens > 0 ? 0 : 1 + sentences % 8;
  batching.sort_pool = 1 + params.byte() % 16;
  batching.seed = params.byte();
  const uint64_t resume_at = params.byte() % 32;
  const auto [source_text, target_text] = split_once(params.rest(), std::string_view("\0", 1));
  const std::vector<std::string> source = read_lines({scratch_file("train.src", source_text)}, "source");
  const std::vector<std::string> target = read_lines({scratch_file("train.tgt", target_text)}, "target");
  if (source.size() != target.size()) return;  // the trainer refuses such files before this point
  TokenizerConfig word;
  word.type = "word";
  const std::unique_ptr<Tokenizer> tokenizer = Tokenizer::train(word, join_lines(source, target));
  const int32_t vocab = static_cast<int32_t>(tokenizer->vocab_size());
  const int32_t eos = tokenizer->eos_id(), bos = vocab, pad = vocab + 1;
  std::vector<SentencePair> train, val;
  for (size_t i = 0; i < source.size(); ++i) {
    SentencePair p{encode_sentence(*tokenizer, source[i]), tokenizer->encode(target[i])};
    val.push_back(p);
    if (static_cast<int64_t>(p.source.size()) <= max_len && static_cast<int64_t>(p.target.size()) + 1 <= max_len)
      train.push_back(std::move(p));
  }
  ParallelData data(train, val, batching, bos, eos, pad);

  auto check = [&](const Batch& b, bool training) {
    const int64_t n = b.source.dim(0), S = b.source.dim(1), T = b.input.dim(1);
    TFM_FUZZ_EXPECT(n >= 1 && b.source_padding.shape() == b.source.shape() && b.target.shape() == b.input.shape() &&
                        b.input.dim(0) == n,
                    "inconsistent batch shapes");
    if (training && batching.batch_tokens > 0)
      TFM_FUZZ_EXPECT(n * std::max(S, T) <= batching.batch_tokens, "a batch of ", n, " rows × ", std::max(S, T),
                      " tokens passes batch_tokens = ", batching.batch_tokens);
    if (training && batching.batch_tokens == 0)
      TFM_FUZZ_EXPECT(n <= batching.batch_size, n, " rows pass batch_size = ", batching.batch_size);
    for (int64_t i = 0; i < n * S; ++i) {
      const int32_t id = b.source.data_i32()[i];
      const bool padded = b.source_padding.data_i32()[i] != 0;
      TFM_FUZZ_EXPECT(padded ? id == pad : (id >= 0 && id < vocab), "source id ", id, " (padding ", padded, ")");
    }
    for (int64_t i = 0; i < n * T; ++i) {
      const int32_t in = b.input.data_i32()[i], out = b.target.data_i32()[i];
      TFM_FUZZ_EXPECT(in == bos || in == pad || (in >= 0 && in < vocab), "decoder input id ", in);
      TFM_FUZZ_EXPECT(out == -100 || (out >= 0 && out < vocab), "target id ", out);
    }
  };
  for (const Batch& b : data.validation()) check(b, false);
  std::vector<Batch> stream;
  for (uint64_t k = 0; k <= resume_at; ++k) {
    stream.push_back(data.next());
    check(stream.back(), true);
  }
  TFM_FUZZ_EXPECT(data.position() == resume_at + 1, "position ", data.position(), " after ", resume_at + 1,
                  " batches");
  ParallelData resumed(std::move(train), std::move(val), batching, bos, eos, pad);
  resumed.seek(resume_at);
  const Batch b = resumed.next();
  TFM_FUZZ_EXPECT(same_tensor(b.source, stream.back().source) && same_tensor(b.input, stream.back().input) &&
                      same_tensor(b.target, stream.back().target),
                  "seek(", resume_at, ") does not give batch ", resume_at, " of the uninterrupted stream");
}

}  // namespace tfm::fuzz

TFM_FUZZ_TARGET(tfm::fuzz::parallel_data)
