#include "models/beam.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace tfm {

std::vector<Hypothesis> beam_search(BeamDecoder& dec, const BeamOptions& o) {
  TFM_CHECK(o.beam >= 1 && o.max_len >= 1, "beam search: need beam >= 1 and max_len >= 1, found beam ", o.beam,
            " and max_len ", o.max_len);
  struct Live {
    std::vector<int32_t> tokens;
    double log_prob = 0.0;
  };
  std::vector<Live> live(1);
  std::vector<Hypothesis> finished;
  auto normalised = [&](double lp, size_t len) { return lp / std::pow(static_cast<double>(len), o.length_penalty); };
  for (int64_t t = 0; t < o.max_len && !live.empty(); ++t) {
    std::vector<int32_t> last;
    for (const Live& h : live) last.push_back(h.tokens.empty() ? o.bos : h.tokens.back());
    const Tensor logp = dec.step(last);
    TFM_CHECK(logp.shape().ndim() == 2 && logp.dim(0) == static_cast<int64_t>(live.size()),
              "beam search: the decoder returned ", logp.shape(), " for ", live.size(), " rows");
    const int64_t V = logp.dim(1);
    struct Candidate {
      double log_prob;
      int64_t row;
      int32_t token;
    };
    std::vector<Candidate> cands;
    cands.reserve(live.size() * static_cast<size_t>(V));
    for (size_t r = 0; r < live.size(); ++r)
      for (int64_t v = 0; v < V; ++v)
        cands.push_back({live[r].log_prob + logp.data()[r * V + v], static_cast<int64_t>(r), static_cast<int32_t>(v)});
    // The best 2·beam candidates: enough to keep `beam` live ones after some finish.
    const size_t keep = std::min(cands.size(), static_cast<size_t>(2 * o.beam));
    std::partial_sort(cands.begin(), cands.begin() + keep, cands.end(), [](const Candidate& a, const Candidate& b) {
      return a.log_prob != b.log_prob ? a.log_prob > b.log_prob : (a.row != b.row ? a.row < b.row : a.token < b.token);
    });
    std::vector<Live> next;
    std::vector<int64_t> rows;
    const bool last_step = t + 1 == o.max_len;
    for (size_t i = 0; i < keep && static_cast<int64_t>(next.size()) < o.beam; ++i) {
      const Candidate& c = cands[i];
      std::vector<int32_t> tokens = live[c.row].tokens;
      if (c.token == o.eos || last_step) {
        if (c.token != o.eos) tokens.push_back(c.token);
        finished.push_back({tokens, c.log_prob, normalised(c.log_prob, tokens.size() + 1)});
        continue;
      }
      tokens.push_back(c.token);
      next.push_back({std::move(tokens), c.log_prob});
      rows.push_back(c.row);
    }
    // Stop when no live hypothesis can beat the best finished one any more: log-probabilities only
    // fall, so a live hypothesis's best possible score is its current log-prob at its current length
    // (for alpha > 0 a longer hypothesis divides by more; bound with the longest possible length).
    if (static_cast<int64_t>(finished.size()) >= o.beam) {
      double best_finished = -INFINITY;
      for (const Hypothesis& h : finished) best_finished = std::max(best_finished, h.score);
      bool can_improve = false;
      for (const Live& h : next) {
        const double bound = o.length_penalty > 0 ? normalised(h.log_prob, static_cast<size_t>(o.max_len))
                                                  : h.log_prob;
        can_improve = can_improve || bound > best_finished;
      }
      if (!can_improve) break;
    }
    live = std::move(next);
    if (!live.empty()) dec.reorder(rows);
  }
  std::stable_sort(finished.begin(), finished.end(),
                   [](const Hypothesis& a, const Hypothesis& b) { return a.score > b.score; });
  if (static_cast<int64_t>(finished.size()) > o.beam) finished.resize(static_cast<size_t>(o.beam));
  return finished;
}

}  // namespace tfm
