#include "tools/eval/translate.h"

#include <algorithm>
#include <numeric>

#include "autograd/variable.h"
#include "core/error.h"
#include "tools/data/parallel_data.h"

namespace tfm {

std::vector<std::vector<int32_t>> translate_ids(Seq2SeqModel& model, const std::vector<std::vector<int32_t>>& sources,
                                                int32_t bos, int32_t eos, int32_t pad, const TranslateOptions& o) {
  TFM_CHECK(o.beam >= 1, "translate: --beam must be >= 1, found ", o.beam);
  TFM_CHECK(o.batch_size >= 1, "translate: batch size must be >= 1, found ", o.batch_size);
  TFM_CHECK(bos >= 0 && eos >= 0, "translate: the tokenizer has no bos/eos ids (train with a sentencepiece tokenizer)");
  NoGradGuard no_grad;
  const bool was_training = model.training();
  model.eval();
  std::vector<std::vector<int32_t>> out(sources.size());
  std::vector<int64_t> order(sources.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](int64_t a, int64_t b) { return sources[a].size() < sources[b].size(); });
  for (size_t start = 0; start < order.size(); start += static_cast<size_t>(o.batch_size)) {
    const size_t end = std::min(order.size(), start + static_cast<size_t>(o.batch_size));
    const int64_t n = static_cast<int64_t>(end - start);
    int64_t S = 1;
    for (size_t i = start; i < end; ++i) S = std::max<int64_t>(S, static_cast<int64_t>(sources[order[i]].size()));
    Tensor src = Tensor::empty({n, S}, DType::I32), padding = Tensor::empty({n, S}, DType::I32);
    bool any_pad = false;
    for (int64_t r = 0; r < n; ++r) {
      const auto& s = sources[order[start + r]];
      for (int64_t j = 0; j < S; ++j) {
        const bool real = j < static_cast<int64_t>(s.size());
        src.data_i32()[r * S + j] = real ? s[j] : pad;
        padding.data_i32()[r * S + j] = real ? 0 : 1;
        any_pad = any_pad || !real;
      }
    }
    if (!any_pad) padding = Tensor();
    const int64_t max_len = std::min(model.max_len(), o.max_len > 0 ? o.max_len : 2 * S + 10);
    std::vector<std::vector<int32_t>> result;
    if (o.beam == 1) {
      result = model.greedy(src, padding, bos, eos, max_len);
    } else {
      BeamOptions bo;
      bo.beam = o.beam;
      bo.length_penalty = o.length_penalty;
      bo.max_len = max_len;
      bo.bos = bos;
      bo.eos = eos;
      auto dec = model.beam_decoder(src, padding, max_len);
      for (auto& hyps : beam_search_batch(*dec, n, bo))
        result.push_back(hyps.empty() ? std::vector<int32_t>() : hyps.front().tokens);
    }
    for (int64_t r = 0; r < n; ++r) out[order[start + r]] = std::move(result[r]);
    if (o.on_progress) o.on_progress(static_cast<int64_t>(end), static_cast<int64_t>(order.size()));
  }
  if (was_training) model.train();
  return out;
}

std::vector<std::string> translate_lines(Seq2SeqModel& model, const Tokenizer& tokenizer,
                                         const std::vector<std::string>& lines, const TranslateOptions& options,
                                         std::vector<int64_t>* truncated) {
  std::vector<std::vector<int32_t>> sources;
  sources.reserve(lines.size());
  for (size_t i = 0; i < lines.size(); ++i) {
    std::vector<int32_t> ids = encode_sentence(tokenizer, lines[i]);
    if (static_cast<int64_t>(ids.size()) > model.max_len()) {
      ids.resize(static_cast<size_t>(model.max_len()));
      ids.back() = tokenizer.eos_id();
      if (truncated) truncated->push_back(static_cast<int64_t>(i));
    }
    sources.push_back(std::move(ids));
  }
  std::vector<std::string> out;
  out.reserve(lines.size());
  for (const auto& ids : translate_ids(model, sources, tokenizer.bos_id(), tokenizer.eos_id(),
                                       std::max<int32_t>(0, tokenizer.pad_id()), options))
    out.push_back(tokenizer.decode(ids));
  return out;
}

}  // namespace tfm
