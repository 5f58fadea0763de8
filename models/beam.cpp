#include "models/beam.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/error.h"
#include "models/seq2seq.h"

namespace tfm {

Tensor gather_rows(const Tensor& t, const std::vector<int64_t>& rows) {
  Shape shape = t.shape();
  shape[0] = static_cast<int64_t>(rows.size());
  Tensor out = Tensor::empty(shape, t.dtype());
  const size_t bytes = t.nbytes() / static_cast<size_t>(t.dim(0));
  for (size_t i = 0; i < rows.size(); ++i) {
    TFM_CHECK(rows[i] >= 0 && rows[i] < t.dim(0), "gather_rows: row ", rows[i], " out of range [0, ", t.dim(0), ")");
    std::memcpy(static_cast<char*>(out.raw_data()) + i * bytes,
                static_cast<const char*>(t.raw_data()) + static_cast<size_t>(rows[i]) * bytes, bytes);
  }
  return out;
}

namespace {

struct Live {
  std::vector<int32_t> tokens;
  double log_prob = 0.0;
};

struct Candidate {
  double log_prob;
  int64_t row;  // within the sentence's live rows
  int32_t token;
};

bool better(const Candidate& a, const Candidate& b) {
  return a.log_prob != b.log_prob ? a.log_prob > b.log_prob : (a.row != b.row ? a.row < b.row : a.token < b.token);
}

// One sentence's search state.
struct Search {
  std::vector<Live> live{Live{}};
  std::vector<Hypothesis> finished;
  bool done = false;
};

double normalised(double log_prob, size_t len, double length_penalty) {
  return log_prob / std::pow(static_cast<double>(len), length_penalty);
}

// The best `keep` candidates of each live row of s (rows base.. of logp), then of
// the sentence, best first: the sentence's best `keep` are among the rows' best.
void best_candidates(const Search& s, const Tensor& logp, int64_t base, size_t keep, std::vector<Candidate>& cands) {
  const int64_t V = logp.dim(1), n_live = static_cast<int64_t>(s.live.size());
  cands.clear();
  for (int64_t r = 0; r < n_live; ++r) {
    const float* row = logp.data() + (base + r) * V;
    const size_t first = cands.size();
    for (int64_t v = 0; v < V; ++v) {
      const Candidate c{s.live[r].log_prob + row[v], r, static_cast<int32_t>(v)};
      if (cands.size() - first < keep) {
        cands.push_back(c);
        std::push_heap(cands.begin() + first, cands.end(), better);  // worst on top
      } else if (better(c, cands[first])) {
        std::pop_heap(cands.begin() + first, cands.end(), better);
        cands.back() = c;
        std::push_heap(cands.begin() + first, cands.end(), better);
      }
    }
  }
  const size_t k = std::min(cands.size(), keep);
  std::partial_sort(cands.begin(), cands.begin() + k, cands.end(), better);
  cands.resize(k);
}

// Whether a live hypothesis can still beat the best finished one once the beam
// has finished enough: log-probabilities only fall, so a live hypothesis's best
// possible score is its current log-prob at its current length (for alpha > 0 a
// longer hypothesis divides by more; bound with the longest possible length:
// max_len + 1, that of a hypothesis cut at max_len, whose length counts the end
// token it never got).
bool can_improve(const Search& s, const std::vector<Live>& next, const BeamOptions& o) {
  if (static_cast<int64_t>(s.finished.size()) < o.beam) return true;
  double best_finished = -INFINITY;
  for (const Hypothesis& h : s.finished) best_finished = std::max(best_finished, h.score);
  for (const Live& h : next) {
    const double bound = o.length_penalty > 0
                             ? normalised(h.log_prob, static_cast<size_t>(o.max_len) + 1, o.length_penalty)
                             : h.log_prob;
    if (bound > best_finished) return true;
  }
  return false;
}

// Extends s by its best candidates: those ending (or cut at the last step) finish,
// up to `beam` others stay live. Appends the decoder rows of the live ones to rows.
void advance(Search& s, const std::vector<Candidate>& cands, int64_t base, bool last_step, const BeamOptions& o,
             std::vector<int64_t>& rows) {
  std::vector<Live> next;
  std::vector<int64_t> next_rows;
  for (size_t i = 0; i < cands.size() && static_cast<int64_t>(next.size()) < o.beam; ++i) {
    const Candidate& c = cands[i];
    std::vector<int32_t> tokens = s.live[c.row].tokens;
    if (c.token == o.eos || last_step) {
      if (c.token != o.eos) tokens.push_back(c.token);
      s.finished.push_back({tokens, c.log_prob, normalised(c.log_prob, tokens.size() + 1, o.length_penalty)});
      continue;
    }
    tokens.push_back(c.token);
    next.push_back({std::move(tokens), c.log_prob});
    next_rows.push_back(base + c.row);
  }
  if (!can_improve(s, next, o)) next.clear(), next_rows.clear();
  s.live = std::move(next);
  rows.insert(rows.end(), next_rows.begin(), next_rows.end());
}

}  // namespace

std::vector<std::vector<Hypothesis>> beam_search_batch(BeamDecoder& dec, int64_t n_sentences, const BeamOptions& o) {
  TFM_CHECK(o.beam >= 1 && o.max_len >= 1, "beam search: need beam >= 1 and max_len >= 1, found beam ", o.beam,
            " and max_len ", o.max_len);
  TFM_CHECK(n_sentences >= 1, "beam search: need at least one sentence, found ", n_sentences);
  std::vector<Search> searches(static_cast<size_t>(n_sentences));
  const size_t keep = static_cast<size_t>(2 * o.beam);  // enough to keep `beam` live ones after some finish
  std::vector<Candidate> cands;
  for (int64_t t = 0; t < o.max_len; ++t) {
    std::vector<int32_t> last;
    for (const Search& s : searches)
      for (const Live& h : s.live) last.push_back(h.tokens.empty() ? o.bos : h.tokens.back());
    if (last.empty()) break;
    const Tensor logp = dec.step(last);
    TFM_CHECK(logp.shape().ndim() == 2 && logp.dim(0) == static_cast<int64_t>(last.size()),
              "beam search: the decoder returned ", logp.shape(), " for ", last.size(), " rows");
    std::vector<int64_t> rows;  // decoder rows to keep, over all sentences
    int64_t base = 0;           // the sentence's first row in this step's batch
    for (Search& s : searches) {
      const int64_t n_live = static_cast<int64_t>(s.live.size());
      if (n_live == 0) continue;
      best_candidates(s, logp, base, keep, cands);
      advance(s, cands, base, t + 1 == o.max_len, o, rows);
      base += n_live;
    }
    if (rows.empty()) break;
    dec.reorder(rows);
  }
  std::vector<std::vector<Hypothesis>> out;
  out.reserve(searches.size());
  for (Search& s : searches) {
    std::stable_sort(s.finished.begin(), s.finished.end(),
                     [](const Hypothesis& a, const Hypothesis& b) { return a.score > b.score; });
    if (static_cast<int64_t>(s.finished.size()) > o.beam) s.finished.resize(static_cast<size_t>(o.beam));
    out.push_back(std::move(s.finished));
  }
  return out;
}

std::vector<Hypothesis> beam_search(BeamDecoder& dec, const BeamOptions& o) {
  return std::move(beam_search_batch(dec, 1, o).front());
}

}  // namespace tfm
