// `tfm bleu` against sacreBLEU's definition: the 13a tokenizer on the cases
// its rules single out, n-gram counts and brevity penalty worked out by hand,
// the 'exp' smoothing, the output line, and the command's errors.
#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "test_util.h"
#include "tools/text/bleu.h"

namespace tfm {
namespace {

using namespace tfm::testing;

TEST(Tokenize13a, FollowsEachRuleOfMteval) {
  // Symbols split; the apostrophe and the hyphen between letters do not.
  EXPECT_EQ(tokenize_13a("Hello, world!"), "Hello , world !");
  EXPECT_EQ(tokenize_13a("It costs $3.50, isn't it?"), "It costs $ 3.50 , isn't it ?");
  // A dash after a digit splits; a period splits unless it sits between digits.
  EXPECT_EQ(tokenize_13a("1990-2000 was a decade."), "1990 - 2000 was a decade .");
  EXPECT_EQ(tokenize_13a("U.S.A."), "U . S . A .");
  // HTML entities are unescaped first.
  EXPECT_EQ(tokenize_13a("&quot;quoted&quot; &amp; more"), "\" quoted \" & more");
  EXPECT_EQ(tokenize_13a("a-b 3-4 x.5 5.x (paren) [brack] {brace} ~tilde` back\\slash /slash@at:colon;semi"),
            "a-b 3 - 4 x . 5 5 . x ( paren ) [ brack ] { brace } ~ tilde ` back \\ slash / slash @ at : colon ; semi");
  EXPECT_EQ(tokenize_13a("Das ist \"gut\", oder?"), "Das ist \" gut \" , oder ?");
  // UTF-8 passes through untouched; spaces collapse.
  EXPECT_EQ(tokenize_13a("  Zwei  Männer stehen am Herd. "), "Zwei Männer stehen am Herd .");
  EXPECT_EQ(tokenize_13a(""), "");
  // No-break and other Unicode spaces separate words, as in Python's str.split().
  EXPECT_EQ(tokenize_13a("zwei\u00a0Hunde\u3000laufen\u2009schnell"), "zwei Hunde laufen schnell");
}

// sacreBLEU's formula from hand-made statistics.
double expected_bleu(std::array<double, 4> correct, std::array<double, 4> total, double hyp_len, double ref_len) {
  double smooth = 1.0, log_sum = 0.0;
  for (int n = 0; n < 4; ++n) {
    double p = 0.0;
    if (correct[n] == 0) smooth *= 2.0, p = 100.0 / (smooth * total[n]);
    else p = 100.0 * correct[n] / total[n];
    log_sum += std::log(p);
  }
  const double bp = hyp_len < ref_len ? std::exp(1.0 - ref_len / hyp_len) : 1.0;
  return bp * std::exp(log_sum / 4.0);
}

TEST(Bleu, IdenticalTextScoresOneHundred) {
  const BleuScore s = corpus_bleu({"The cat sat on the mat.", "A dog."}, {{"The cat sat on the mat.", "A dog."}});
  EXPECT_NEAR(s.score, 100.0, 1e-9);
  EXPECT_EQ(s.bp, 1.0);
  EXPECT_EQ(s.stats.hyp_len, 7 + 3);
}

TEST(Bleu, OneSentenceWithSmoothingAndBrevityPenalty) {
  // hyp "It wasn't surprising ." (4 tokens), ref "It was not unexpected ." (5 tokens).
  // 1-grams: It, . match → 2/4; no 2-, 3- or 4-gram matches (3, 2, 1 of them):
  // exp smoothing gives 100/(2·3), 100/(4·2), 100/(8·1); BP = exp(1 − 5/4).
  const BleuScore s = corpus_bleu({"It wasn't surprising."}, {{"It was not unexpected."}});
  EXPECT_EQ(s.stats.correct, (std::array<int64_t, 4>{2, 0, 0, 0}));
  EXPECT_EQ(s.stats.total, (std::array<int64_t, 4>{4, 3, 2, 1}));
  EXPECT_NEAR(s.precisions[0], 50.0, 1e-12);
  EXPECT_NEAR(s.precisions[1], 100.0 / 6.0, 1e-12);
  EXPECT_NEAR(s.precisions[2], 12.5, 1e-12);
  EXPECT_NEAR(s.precisions[3], 12.5, 1e-12);
  EXPECT_NEAR(s.bp, std::exp(-0.25), 1e-12);
  EXPECT_NEAR(s.score, expected_bleu({2, 0, 0, 0}, {4, 3, 2, 1}, 4, 5), 1e-9);
  EXPECT_NEAR(s.score, 14.794015674776452, 1e-9);  // sacreBLEU 2.x prints BLEU = 14.79
}

TEST(Bleu, CorpusStatisticsAddUpOverSentences) {
  // The example of sacreBLEU's README with its first reference stream.
  // Sentence 1: identical, 6 tokens: 6/5/4/3 matches of 6/5/4/3.
  // Sentence 2: as above: 2/0/0/0 of 4/3/2/1, ref 5.
  // Sentence 3: "The man had just bitten him ." vs "The man bit him first .":
  //   1-grams The, man, him, . → 4/7; 2-grams "The man" → 1/6; 3-, 4-grams none of 5, 4; ref 6.
  // Totals: correct 12/6/4/3, totals 17/14/11/8, hyp_len 17 = ref_len 17, BP 1.
  const BleuScore s = corpus_bleu({"The dog bit the man.", "It wasn't surprising.", "The man had just bitten him."},
                                  {{"The dog bit the man.", "It was not unexpected.", "The man bit him first."}});
  EXPECT_EQ(s.stats.correct, (std::array<int64_t, 4>{12, 6, 4, 3}));
  EXPECT_EQ(s.stats.total, (std::array<int64_t, 4>{17, 14, 11, 8}));
  EXPECT_EQ(s.stats.hyp_len, 17);
  EXPECT_EQ(s.stats.ref_len, 17);
  EXPECT_NEAR(s.score, expected_bleu({12, 6, 4, 3}, {17, 14, 11, 8}, 17, 17), 1e-9);
  EXPECT_NEAR(s.score, 45.06750632106114, 1e-9);
  EXPECT_EQ(format_bleu(s), "BLEU = 45.07 70.6/42.9/36.4/37.5 (BP = 1.000 ratio = 1.000 hyp_len = 17 ref_len = 17)");
}

TEST(Bleu, ShortHypothesisPaysTheBrevityPenalty) {
  // Every n-gram matches (5/4/3/2) but 5 tokens against 8: BP = exp(1 − 8/5).
  const BleuScore s = corpus_bleu({"a b c d e"}, {{"a b c d e f g h"}});
  EXPECT_NEAR(s.bp, std::exp(1.0 - 8.0 / 5.0), 1e-12);
  EXPECT_NEAR(s.score, 100.0 * std::exp(1.0 - 8.0 / 5.0), 1e-9);
  EXPECT_NEAR(s.ratio, 5.0 / 8.0, 1e-12);
}

TEST(Bleu, ClippingCountsEachReferenceNgramOnce) {
  // "the the the the" against "the cat": 1-gram "the" clipped to 1 of 4.
  const BleuScore s = corpus_bleu({"the the the the"}, {{"the cat"}});
  EXPECT_EQ(s.stats.correct[0], 1);
  EXPECT_EQ(s.stats.total[0], 4);
}

TEST(Bleu, MultipleReferencesClipByTheBestAndTakeTheClosestLength) {
  BleuStats st;
  st.add("a b c", {"a b x y", "a c", "b c d"});  // lengths 4, 2, 3: closest to 3 is 3
  EXPECT_EQ(st.ref_len, 3);
  EXPECT_EQ(st.correct[0], 3);  // a (refs 1, 2), b, c
  EXPECT_EQ(st.correct[1], 2);  // "a b" (ref 1), "b c" (ref 3)
  BleuStats tie;
  tie.add("a b c", {"a b c d", "a b"});  // 4 and 2 are both 1 away: the shorter wins
  EXPECT_EQ(tie.ref_len, 2);
}

TEST(Bleu, EmptyOrTooShortOutputScoresZero) {
  EXPECT_EQ(corpus_bleu({""}, {{"a b c"}}).score, 0.0);
  // Three words: no 4-gram at all, so the 4-gram precision is 0 and so is BLEU (no effective order).
  EXPECT_EQ(corpus_bleu({"a b c"}, {{"a b c"}}).score, 0.0);
}

TEST(BleuCommand, PrintsTheSacrebleuLineAndJson) {
  TempDir dir;
  dir.file("ref.txt", "The dog bit the man.\nIt was not unexpected.\nThe man bit him first.\n");
  dir.file("hyp.txt", "The dog bit the man.\r\nIt wasn't surprising.\r\nThe man had just bitten him.\r\n");
  const ProcessResult r = tfm("bleu ref.txt hyp.txt", dir.path());
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "BLEU = 45.07 70.6/42.9/36.4/37.5 (BP = 1.000 ratio = 1.000 hyp_len = 17 ref_len = 17)\n");
  const ProcessResult j = tfm("bleu ref.txt hyp.txt --json", dir.path());
  ASSERT_EQ(j.code, 0) << j.err;
  const auto json = nlohmann::json::parse(j.out);
  EXPECT_NEAR(json.at("score").get<double>(), 45.06750632106114, 1e-9);
  EXPECT_EQ(json.at("counts"), nlohmann::json({12, 6, 4, 3}));
}

TEST(BleuCommand, MismatchedLineCountsAndMissingFilesAreBadInput) {
  TempDir dir;
  dir.file("ref.txt", "a b c\nd e f\n");
  dir.file("hyp.txt", "a b c\n");
  ProcessResult r = tfm("bleu ref.txt hyp.txt", dir.path());
  EXPECT_EQ(r.code, 2);
  EXPECT_CONTAINS(r.err, "ref.txt has 2 lines but hyp.txt has 1");
  r = tfm("bleu missing.txt hyp.txt", dir.path());
  EXPECT_EQ(r.code, 2);
  EXPECT_CONTAINS(r.err, "missing.txt");
}

}  // namespace
}  // namespace tfm
