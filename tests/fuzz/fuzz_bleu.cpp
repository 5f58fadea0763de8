// `tfm bleu REF HYP`: read_lines on a reference file and a hypothesis file (the
// input split at its first NUL byte) and corpus BLEU over them. The score and
// the precisions must be finite percentages, the brevity penalty in [0, 1],
// and the references scored against themselves must get 100 whenever they
// hold a 4-gram (every n-gram matches, no brevity penalty).
#include <cmath>

#include "fuzz.h"
#include "tools/text/bleu.h"
#include "tools/text/text_files.h"
#include "tools/data/parallel_data.h"

namespace tfm::fuzz {

void bleu(std::string_view input) {
  const auto [ref_text, hyp_text] = split_once(input, std::string_view("\0", 1));
  const std::vector<std::string> refs = read_lines({scratch_file("ref.txt", ref_text)}, "ref.txt");
  const std::vector<std::string> hyps = read_lines({scratch_file("hyp.txt", hyp_text)}, "hyp.txt");
  const BleuScore s = corpus_bleu(hyps, {refs});
  format_bleu(s);
  TFM_FUZZ_EXPECT(std::isfinite(s.score) && s.score >= 0 && s.score <= 100 + 1e-9, "BLEU ", s.score);
  TFM_FUZZ_EXPECT(s.bp >= 0 && s.bp <= 1, "brevity penalty ", s.bp);
  for (double p : s.precisions) TFM_FUZZ_EXPECT(std::isfinite(p) && p >= 0 && p <= 100 + 1e-9, "precision ", p);
  const BleuScore self = corpus_bleu(refs, {refs});
  if (self.stats.total[3] > 0)
    TFM_FUZZ_EXPECT(std::fabs(self.score - 100.0) < 1e-9, "references against themselves score ", self.score);
}

}  // namespace tfm::fuzz

TFM_FUZZ_TARGET(tfm::fuzz::bleu)
