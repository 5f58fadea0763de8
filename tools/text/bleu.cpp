#include "tools/text/bleu.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>

#include "core/error.h"

namespace tfm {
namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// The character class [\{-\~\[-\` -\&\(-\+\:-\@\/] of the first 13a rule.
bool is_split_symbol(char c) {
  const unsigned char u = static_cast<unsigned char>(c);
  return (u >= 0x7B && u <= 0x7E) || (u >= 0x5B && u <= 0x60) || (u >= 0x20 && u <= 0x26) ||
         (u >= 0x28 && u <= 0x2B) || (u >= 0x3A && u <= 0x40) || u == '/';
}

void replace_all(std::string& s, const std::string& from, const std::string& to) {
  for (size_t pos = 0; (pos = s.find(from, pos)) != std::string::npos; pos += to.size()) s.replace(pos, from.size(), to);
}

// Python's re.sub for a two-character pattern (a)(b) → replacement, scanning
// left to right over non-overlapping matches, as the 13a rules are applied.
template <typename First, typename Second, typename Emit>
std::string sub_pairs(const std::string& s, First first, Second second, Emit emit) {
  std::string out;
  out.reserve(s.size() + s.size() / 4);
  size_t i = 0;
  while (i < s.size()) {
    if (i + 1 < s.size() && first(s[i]) && second(s[i + 1])) {
      emit(out, s[i], s[i + 1]);
      i += 2;
    } else {
      out += s[i++];
    }
  }
  return out;
}

using NgramCounts = std::map<std::string, int64_t>;

// Length in bytes of the whitespace character starting at s[i] (0 if none), as
// Python's str.split() sees whitespace: ASCII whitespace, \x1c-\x1f, and the
// Unicode White_Space characters (U+0085, U+00A0, U+1680, U+2000-U+200A,
// U+2028, U+2029, U+202F, U+205F, U+3000) in UTF-8.
size_t whitespace_at(const std::string& s, size_t i) {
  const auto u = [&](size_t k) { return k < s.size() ? static_cast<unsigned char>(s[k]) : 0u; };
  const unsigned c = u(i);
  if (c == ' ' || (c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x1f)) return 1;
  if (c == 0xC2 && (u(i + 1) == 0x85 || u(i + 1) == 0xA0)) return 2;
  if (c == 0xE1 && u(i + 1) == 0x9A && u(i + 2) == 0x80) return 3;  // U+1680
  if (c == 0xE2 && u(i + 1) == 0x80 && ((u(i + 2) >= 0x80 && u(i + 2) <= 0x8A) || u(i + 2) == 0xA8 || u(i + 2) == 0xA9 || u(i + 2) == 0xAF))
    return 3;  // U+2000-U+200A, U+2028, U+2029, U+202F
  if (c == 0xE2 && u(i + 1) == 0x81 && u(i + 2) == 0x9F) return 3;  // U+205F
  if (c == 0xE3 && u(i + 1) == 0x80 && u(i + 2) == 0x80) return 3;  // U+3000
  return 0;
}

std::vector<std::string> split_ws(const std::string& s) {
  std::vector<std::string> words;
  std::string w;
  for (size_t i = 0; i < s.size();) {
    if (const size_t n = whitespace_at(s, i)) {
      if (!w.empty()) words.push_back(std::move(w)), w.clear();
      i += n;
    } else {
      w += s[i++];
    }
  }
  if (!w.empty()) words.push_back(std::move(w));
  return words;
}

NgramCounts ngrams(const std::vector<std::string>& words) {
  NgramCounts counts;
  for (size_t n = 1; n <= 4; ++n)
    for (size_t i = 0; i + n <= words.size(); ++i) {
      std::string key = std::to_string(n);
      for (size_t k = 0; k < n; ++k) key += '\x01' + words[i + k];
      ++counts[key];
    }
  return counts;
}

}  // namespace

std::string tokenize_13a(const std::string& input) {
  std::string line = input;
  replace_all(line, "<skipped>", "");
  replace_all(line, "-\n", "");
  replace_all(line, "\n", " ");
  if (line.find('&') != std::string::npos) {
    replace_all(line, "&quot;", "\"");
    replace_all(line, "&amp;", "&");
    replace_all(line, "&lt;", "<");
    replace_all(line, "&gt;", ">");
  }
  line = " " + line + " ";
  std::string spaced;
  for (char c : line) {
    if (is_split_symbol(c)) spaced += ' ', spaced += c, spaced += ' ';
    else spaced += c;
  }
  auto period_comma = [](char c) { return c == '.' || c == ','; };
  auto not_digit = [](char c) { return !is_digit(c); };
  // Period and comma unless preceded by a digit: ([^0-9])([\.,]) → "\1 \2 "
  spaced = sub_pairs(spaced, not_digit, period_comma, [](std::string& o, char a, char b) {
    o += a, o += ' ', o += b, o += ' ';
  });
  // ... unless followed by a digit: ([\.,])([^0-9]) → " \1 \2"
  spaced = sub_pairs(spaced, period_comma, not_digit, [](std::string& o, char a, char b) {
    o += ' ', o += a, o += ' ', o += b;
  });
  // Dash after a digit: ([0-9])(-) → "\1 \2 "
  spaced = sub_pairs(spaced, is_digit, [](char c) { return c == '-'; }, [](std::string& o, char a, char b) {
    o += a, o += ' ', o += b, o += ' ';
  });
  std::string out;
  for (const std::string& w : split_ws(spaced)) {
    if (!out.empty()) out += ' ';
    out += w;
  }
  return out;
}

void BleuStats::add(const std::string& hypothesis, const std::vector<std::string>& references) {
  TFM_CHECK(!references.empty(), "bleu: a hypothesis needs at least one reference");
  const std::vector<std::string> hyp = split_ws(tokenize_13a(hypothesis));
  const NgramCounts hyp_counts = ngrams(hyp);
  NgramCounts max_ref;
  int64_t closest = -1;
  const int64_t h = static_cast<int64_t>(hyp.size());
  for (const std::string& r : references) {
    const std::vector<std::string> ref = split_ws(tokenize_13a(r));
    const int64_t len = static_cast<int64_t>(ref.size());
    if (closest < 0 || std::llabs(len - h) < std::llabs(closest - h) ||
        (std::llabs(len - h) == std::llabs(closest - h) && len < closest))
      closest = len;
    for (const auto& [gram, count] : ngrams(ref)) max_ref[gram] = std::max(max_ref[gram], count);
  }
  hyp_len += h;
  ref_len += closest;
  for (int n = 1; n <= 4; ++n) total[n - 1] += std::max<int64_t>(0, h - n + 1);
  for (const auto& [gram, count] : hyp_counts) {
    const int n = gram[0] - '0';
    auto it = max_ref.find(gram);
    if (it != max_ref.end()) correct[n - 1] += std::min(count, it->second);
  }
}

BleuScore bleu_from_stats(const BleuStats& st) {
  BleuScore s;
  s.stats = st;
  double smooth = 1.0;
  for (int n = 0; n < 4; ++n) {
    if (st.total[n] == 0) break;  // shorter than n words overall: precision stays 0, score 0
    if (st.correct[n] == 0) {
      smooth *= 2.0;
      s.precisions[n] = 100.0 / (smooth * static_cast<double>(st.total[n]));
    } else {
      s.precisions[n] = 100.0 * static_cast<double>(st.correct[n]) / static_cast<double>(st.total[n]);
    }
  }
  s.ratio = st.ref_len > 0 ? static_cast<double>(st.hyp_len) / static_cast<double>(st.ref_len) : 0.0;
  if (st.hyp_len < st.ref_len) s.bp = st.hyp_len > 0 ? std::exp(1.0 - static_cast<double>(st.ref_len) / st.hyp_len) : 0.0;
  else s.bp = 1.0;
  double log_sum = 0.0;
  for (double p : s.precisions) log_sum += p == 0.0 ? -9999999999.0 : std::log(p);
  s.score = s.bp * std::exp(log_sum / 4.0);
  return s;
}

BleuScore corpus_bleu(const std::vector<std::string>& hyps, const std::vector<std::vector<std::string>>& refs) {
  TFM_CHECK(!refs.empty(), "bleu: no reference stream");
  for (size_t k = 0; k < refs.size(); ++k)
    TFM_CHECK(refs[k].size() == hyps.size(), "bleu: reference stream ", k + 1, " has ", refs[k].size(),
              " lines but the hypothesis has ", hyps.size());
  BleuStats st;
  std::vector<std::string> sentence_refs(refs.size());
  for (size_t i = 0; i < hyps.size(); ++i) {
    for (size_t k = 0; k < refs.size(); ++k) sentence_refs[k] = refs[k][i];
    st.add(hyps[i], sentence_refs);
  }
  return bleu_from_stats(st);
}

std::string format_bleu(const BleuScore& s) {
  char buf[256];
  std::snprintf(buf, sizeof buf, "BLEU = %.2f %.1f/%.1f/%.1f/%.1f (BP = %.3f ratio = %.3f hyp_len = %lld ref_len = %lld)",
                s.score, s.precisions[0], s.precisions[1], s.precisions[2], s.precisions[3], s.bp, s.ratio,
                static_cast<long long>(s.stats.hyp_len), static_cast<long long>(s.stats.ref_len));
  return buf;
}

}  // namespace tfm
