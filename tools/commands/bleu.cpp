// tfm bleu REFERENCE HYPOTHESIS: sacreBLEU's default corpus BLEU (tools/text/bleu.h).
#include <nlohmann/json.hpp>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "core/error.h"
#include "tools/text/bleu.h"
#include "tools/commands/command.h"
#include "tools/text/text_files.h"
#include "tools/data/parallel_data.h"

namespace tfm::cli {
namespace {

struct Options {
  std::string reference, hypothesis;
  bool json = false;
};

nlohmann::json bleu_json(const BleuScore& s) {
  return {{"name", "BLEU"},
          {"score", s.score},
          {"precisions", s.precisions},
          {"bp", s.bp},
          {"ratio", s.ratio},
          {"hyp_len", s.stats.hyp_len},
          {"ref_len", s.stats.ref_len},
          {"counts", s.stats.correct},
          {"totals", s.stats.total},
          {"signature", "nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp"},
          {"verbose_score", format_bleu(s).substr(7)}};
}

CommandRun setup(CLI::App& app) {
  auto o = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand("bleu", "Corpus BLEU of a hypothesis file against a reference file (sacreBLEU's default)");
  cmd->add_option("reference", o->reference, "Reference translations, one sentence per line")->required();
  cmd->add_option("hypothesis", o->hypothesis, "System output, line by line aligned with the reference")->required();
  cmd->add_flag("--json", o->json, "Print one JSON object instead of the sacreBLEU line");
  cmd->footer(
      "Same definition as sacreBLEU's defaults: detokenised text, 13a tokenisation, case-sensitive, 4-grams,\n"
      "brevity penalty over the corpus, 'exp' smoothing (signature nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp).");
  return [o] {
    const std::vector<std::string> ref = read_lines({o->reference}, o->reference);
    const std::vector<std::string> hyp = read_lines({o->hypothesis}, o->hypothesis);
    TFM_CHECK(ref.size() == hyp.size(), "bleu: ", o->reference, " has ", ref.size(), " lines but ", o->hypothesis,
              " has ", hyp.size(), " (one translation per reference line)");
    const BleuScore s = corpus_bleu(hyp, {ref});
    std::printf("%s\n", o->json ? bleu_json(s).dump().c_str() : format_bleu(s).c_str());
    return 0;
  };
}

TFM_REGISTER_COMMAND("bleu", 70, setup);

}  // namespace
}  // namespace tfm::cli
