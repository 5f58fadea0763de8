#include "tools/eval/lm_eval.h"

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <map>
#include <numeric>

#include "core/kernels/loss.h"
#include "core/safetensors.h"

namespace tfm {

LoadedLm load_lm(const std::string& path) {
  return load_checkpoint_as<LanguageModel>(path, "a language model (expected type \"lm\")");
}

PerplexityResult perplexity(LanguageModel& model, const std::vector<int32_t>& ids, int64_t batch_size) {
  NoGradGuard no_grad;
  model.eval();
  const int64_t N = static_cast<int64_t>(ids.size()), T = model.max_len();
  TFM_CHECK(N >= 2, "perplexity: the text has ", N, " tokens; at least 2 are needed");
  TFM_CHECK(batch_size >= 1, "perplexity: --batch-size must be >= 1");
  // Windows [s, min(s+T, N−1)): full ones batched together, the short last one alone.
  std::vector<int64_t> starts;
  for (int64_t s = 0; s < N - 1; s += T) starts.push_back(s);
  double nll = 0.0;
  int64_t count = 0;
  size_t i = 0;
  while (i < starts.size()) {
    const int64_t len = std::min(starts[i] + T, N - 1) - starts[i];
    size_t j = i;
    while (j < starts.size() && j - i < static_cast<size_t>(batch_size) &&
           std::min(starts[j] + T, N - 1) - starts[j] == len)
      ++j;
    const int64_t B = static_cast<int64_t>(j - i);
    Tensor input = Tensor::empty({B, len}, DType::I32), target = Tensor::empty({B, len}, DType::I32);
    for (int64_t b = 0; b < B; ++b) {
      const int64_t s = starts[i + b];
      std::copy(ids.begin() + s, ids.begin() + s + len, input.data_i32() + b * len);
      std::copy(ids.begin() + s + 1, ids.begin() + s + len + 1, target.data_i32() + b * len);
    }
    Variable logits = model.forward(input);
    const int64_t V = logits.shape().last(), rows = B * len;
    Tensor lse = Tensor::empty({rows}), row_loss = Tensor::empty({rows});
    cross_entropy_forward(lse.data(), row_loss.data(), logits.data().data(), target.data_i32(), rows, V, -100, 0.0f);
    // Per-token losses summed in double, in text order.
    for (int64_t r = 0; r < rows; ++r) nll += row_loss.data()[r];
    count += rows;
    i = j;
  }
  PerplexityResult r;
  r.tokens = count;
  r.nll = nll / static_cast<double>(count);
  r.ppl = std::exp(r.nll);
  return r;
}

std::vector<int32_t> generate(LanguageModel& model, const std::vector<int32_t>& prompt, const SamplingOptions& o,
                              const std::function<void(int32_t)>& on_token) {
  NoGradGuard no_grad;
  model.eval();
  TFM_CHECK(o.temperature >= 0.0, "generate: --temperature must be >= 0, found ", o.temperature);
  TFM_CHECK(o.top_p > 0.0 && o.top_p <= 1.0, "generate: --top-p must be in (0, 1], found ", o.top_p);
  TFM_CHECK(o.top_k >= 0, "generate: --top-k must be >= 0, found ", o.top_k);
  const int64_t T = model.max_len(), V = model.vocab_size();
  std::vector<int32_t> context = prompt;
  if (context.empty()) context.push_back(0);
  // Keep the last T − 1 prompt tokens so at least one new position fits.
  if (static_cast<int64_t>(context.size()) > T - 1) context.erase(context.begin(), context.end() - (T - 1));
  Generator gen(o.seed);
  std::vector<KVCache> caches;
  std::vector<int32_t> out;
  Tensor ids = Tensor::from_ids({1, static_cast<int64_t>(context.size())}, context);
  std::vector<float> probs(V);
  std::vector<int32_t> order(V);
  for (int64_t n = 0; n < o.tokens; ++n) {
    if (!caches.empty() && caches[0].length >= T) {
      // Context full: restart from the most recent half window (a sliding context).
      std::vector<int32_t> tail(context.end() - T / 2, context.end());
      caches.clear();
      ids = Tensor::from_ids({1, static_cast<int64_t>(tail.size())}, tail);
    }
    Variable logits = model.forward_cached(ids, caches);
    const float* last = logits.data().data() + (logits.shape().rows() - 1) * V;
    int32_t next;
    if (o.temperature == 0.0) {
      next = static_cast<int32_t>(std::max_element(last, last + V) - last);
    } else {
      float mx = *std::max_element(last, last + V);
      double sum = 0.0;
      for (int64_t j = 0; j < V; ++j) sum += probs[j] = std::exp((last[j] - mx) / static_cast<float>(o.temperature));
      std::iota(order.begin(), order.end(), 0);
      std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return probs[a] > probs[b]; });
      int64_t keep = o.top_k > 0 ? std::min<int64_t>(o.top_k, V) : V;
      if (o.top_p < 1.0) {  // nucleus: the smallest prefix whose mass reaches top_p
        double acc = 0.0;
        int64_t k = 0;
        while (k < keep && acc < o.top_p * sum) acc += probs[order[k++]];
        keep = std::max<int64_t>(1, k);
      }
      double kept = 0.0;
      for (int64_t k = 0; k < keep; ++k) kept += probs[order[k]];
      double u = gen.next_uniform() * kept;
      next = order[keep - 1];
      for (int64_t k = 0; k < keep; ++k) {
        u -= probs[order[k]];
        if (u < 0) {
          next = order[k];
          break;
        }
      }
    }
    out.push_back(next);
    context.push_back(next);
    if (on_token) on_token(next);
    ids = Tensor::from_ids({1, 1}, std::vector<int32_t>{next});
  }
  return out;
}

void inspect_checkpoint(const std::string& path, std::ostream& out) {
  SafetensorsContents c = load_safetensors(path);
  LoadedModel loaded = load_checkpoint(path);
  out << "checkpoint: " << path << "\n";
  out << "model: " << loaded.config.dump() << "\n";
  nlohmann::json tok = loaded.tokenizer;
  if (tok.is_object()) {
    if (tok.contains("vocab")) tok["vocab"] = std::to_string(tok["vocab"].size()) + " entries";
    if (tok.contains("model")) tok["model"] = std::to_string(tok["model"].get<std::string>().size()) + " base64 bytes";
  }
  out << "tokenizer: " << tok.dump() << "\n";
  out << "parameters: " << loaded.model->parameter_count() << "\n";
  std::map<std::string, int64_t> per_module;
  std::vector<std::string> order;
  for (auto& [name, p] : loaded.model->named_parameters()) {
    // Group by the first component, and by block for stacked layers.
    std::string key = name.substr(0, name.find('.'));
    if (key == "blocks" || key == "encoder" || key == "decoder") {
      size_t second = name.find('.', name.find('.') + 1);
      if (key != "blocks") second = name.find('.', second + 1);
      key = name.substr(0, second);
    }
    if (!per_module.contains(key)) order.push_back(key);
    per_module[key] += p->numel();
  }
  out << "parameters per module:\n";
  for (auto& k : order) out << "  " << std::left << std::setw(28) << k << per_module[k] << "\n";
  out << "tensors:\n";
  for (auto& [name, t] : c.tensors) out << "  " << std::left << std::setw(36) << name << dtype_name(t.dtype()) << " " << t.shape() << "\n";
}

}  // namespace tfm
