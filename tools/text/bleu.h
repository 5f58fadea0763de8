#pragma once
// Corpus BLEU exactly as sacreBLEU computes it by default (Papineni et al.
// 2002; Post 2018): mteval-v13a tokenisation, case-sensitive, n-grams up to 4
// clipped by the reference counts, brevity penalty from the corpus lengths,
// 'exp' smoothing (an n-gram order without any match gets precision
// 100 / (2^k · total), k counting such orders), no effective order. With several
// references a hypothesis n-gram is clipped by its highest count in any of them
// and the reference length is the one closest to the hypothesis (ties: shorter).
#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace tfm {

// sacreBLEU's "13a" tokenizer (mteval-v13a.pl's language-independent rules).
// Text is UTF-8; the rules (all on ASCII characters) never split a character,
// and whitespace is what Python's str.split() takes for it (no-break spaces
// included, which Multi30k's German files contain).
std::string tokenize_13a(const std::string& line);

struct BleuStats {
  std::array<int64_t, 4> correct{}, total{};
  int64_t hyp_len = 0, ref_len = 0;
  void add(const std::string& hypothesis, const std::vector<std::string>& references);  // raw (untokenised) lines
};

struct BleuScore {
  double score = 0.0;                  // 0..100
  std::array<double, 4> precisions{};  // percent, after smoothing
  double bp = 0.0, ratio = 0.0;
  BleuStats stats;
};

BleuScore bleu_from_stats(const BleuStats& stats);
// refs[k][i] is reference k of sentence i; every stream has hyps.size() lines.
BleuScore corpus_bleu(const std::vector<std::string>& hyps, const std::vector<std::vector<std::string>>& refs);
// "BLEU = 34.56 67.1/42.0/28.3/19.5 (BP = 0.981 ratio = 0.981 hyp_len = 1200 ref_len = 1223)"
std::string format_bleu(const BleuScore& s);

}  // namespace tfm
