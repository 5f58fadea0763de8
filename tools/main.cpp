// tfm: train Transformer language models on CPU, evaluate, generate, inspect.
#include <CLI/CLI.hpp>
#include <dnnl.hpp>

#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <cstdio>
#include <iostream>
#include <optional>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/io.h"
#include "core/parallel.h"
#include "models/checkpoint.h"
#include "tools/bench.h"
#include "tools/bleu.h"
#include "tools/distributed.h"
#include "tools/parallel_data.h"
#include "tools/lm_commands.h"
#include "tools/report/report.h"
#include "tools/train_config.h"
#include "tools/train_precision.h"
#include "tools/trainer.h"
#include "tools/translate_commands.h"

namespace {

// Iterations a waiting OpenMP thread spins before it sleeps (see main).
#define TFM_DEFAULT_SPINCOUNT "1000"

std::string version_string() {
  const dnnl_version_t* v = dnnl_version();
  char buf[256];
  std::snprintf(buf, sizeof buf, "tfm %s (oneDNN %d.%d.%d, OpenMP, %d cores, MPI: %s)", TFM_VERSION, v->major,
                v->minor, v->patch, tfm::available_cores(),
                tfm::dist::compiled_with_mpi() ? "yes" : "no");
  return buf;
}

int run(int argc, char** argv) {
  CLI::App app{"tfm: train Transformer language models on CPU from JSON configs.\n"
               "Run `tfm COMMAND --help` for each command's options."};
  app.set_version_flag("--version", version_string());
  app.require_subcommand(1);

  // train
  tfm::TrainOptions train;
  auto* train_cmd = app.add_subcommand("train", "Train a model from a JSON config into a run directory");
  train_cmd->add_option("config", train.config_path, "Config file (see `tfm help config-keys`)")->required();
  train_cmd->add_option("--set", train.overrides, "Override a config key: section.key=value (repeatable)");
  train_cmd->add_option("--out", train.out_dir, "Run directory (default runs/<config>-<time>)");
  train_cmd->add_option("--resume", train.resume,
                        "Continue the run in RUN_DIR exactly, or start from CHECKPOINT's weights");
  train_cmd->add_flag("--quiet", train.quiet, "No progress output");
  bool train_report = true;

  // perplexity
  std::string ppl_ckpt, ppl_text, ppl_source, ppl_target;
  bool ppl_json = false;
  int64_t ppl_batch = 16;
  auto* ppl_cmd = app.add_subcommand(
      "perplexity", "Per-token NLL and perplexity of a text (language model) or of target sentences given "
                    "source sentences (encoder-decoder) under a checkpoint");
  ppl_cmd->add_option("checkpoint", ppl_ckpt, "Model checkpoint (.safetensors)")->required();
  ppl_cmd->add_option("textfile", ppl_text, "Text to score (language model)");
  ppl_cmd->add_option("--source", ppl_source, "Source sentences, one per line (encoder-decoder)");
  ppl_cmd->add_option("--target", ppl_target, "Target sentences, line by line aligned with --source (encoder-decoder)");
  ppl_cmd->add_flag("--json", ppl_json, "Last line: {\"nll\":...,\"ppl\":...,\"tokens\":...}");
  ppl_cmd->add_option("--batch-size", ppl_batch, "Windows (or sentence pairs) scored per forward pass")
      ->check(CLI::PositiveNumber);
  ppl_cmd->footer(
      "Language model (TEXTFILE): the text becomes ids x[0..N-1]; windows start at s = 0, T, 2T, ...\n"
      "(T = seq_len), each an independent context predicting x[s+1 .. min(s+T, N-1)], so every token but the\n"
      "first is scored once.\n"
      "Encoder-decoder (--source SRC --target TGT): teacher-forced, as tfm train's validation loss: the source\n"
      "is its tokens then </s>, the decoder reads <s> + target and predicts target + </s>, so every target\n"
      "token and each </s> is scored once, without label smoothing. A pair longer than seq_len is cut (the\n"
      "source to seq_len tokens, </s> last; the target to seq_len - 1), with a warning.");

  // generate
  std::string gen_ckpt, gen_prompt;
  tfm::SamplingOptions sampling;
  auto* gen_cmd = app.add_subcommand("generate", "Stream sampled text from a checkpoint");
  gen_cmd->add_option("checkpoint", gen_ckpt, "Model checkpoint")->required();
  gen_cmd->add_option("--prompt", gen_prompt, "Text to continue");
  gen_cmd->add_option("--tokens", sampling.tokens, "Tokens to generate")->check(CLI::NonNegativeNumber);
  gen_cmd->add_option("--temperature", sampling.temperature, "Softmax temperature (0 = greedy)");
  gen_cmd->add_option("--top-k", sampling.top_k, "Sample from the k most likely tokens (0 = all)");
  gen_cmd->add_option("--top-p", sampling.top_p, "Nucleus sampling mass (1 = off)");
  gen_cmd->add_option("--seed", sampling.seed, "Random seed (same seed, same text)");
  gen_cmd->footer(
      "Each token: q ~ exp(logit / temperature), tokens ranked by q (ties: lower id first); --top-k keeps the k\n"
      "first; --top-p then keeps the shortest prefix of those whose mass, as a fraction of the whole\n"
      "distribution, reaches p; the token is drawn from the kept ones, renormalised.");

  // inspect
  std::string inspect_ckpt;
  auto* inspect_cmd = app.add_subcommand("inspect", "Show a checkpoint's config, tokenizer, parameters and tensors");
  inspect_cmd->add_option("checkpoint", inspect_ckpt, "Model checkpoint")->required();

  // bench
  tfm::BenchOptions bench;
  bool bench_peak = false;
  auto* bench_cmd = app.add_subcommand("bench", "Time training or inference of a benchmark preset (as torch_ref.py)");
  bench_cmd->add_option("--preset", bench.preset, "gpt-tiny | gpt-small | seq2seq");
  bench_cmd->add_option("--steps", bench.steps, "Timed steps (median reported)");
  bench_cmd->add_option("--warmup", bench.warmup, "Untimed steps first");
  bench_cmd->add_option("--threads", bench.threads, "OpenMP threads");
  bench_cmd->add_flag("--infer", bench.infer, "Time no-grad scoring passes instead of training steps");
  bench_cmd->add_flag("--json", bench.json, "End with one JSON line (keys as torch_ref.py)");
  bench_cmd->add_option("--peak-gflops", bench.peak_gflops, "MFU denominator (default: measured, cached per host)");
  bench_cmd->add_flag("--peak", bench_peak,
                      "Measure the GEMM peak at 1024^3 (fp32: oneDNN sgemm; bf16: bf16 operands, fp32 accumulation) "
                      "and exit");
  bench_cmd->add_option("--precision", bench.precision,
                        "fp32 | bf16: the GEMMs' operands (bf16: rounded to bf16, fp32 accumulation; MFU against the bf16 "
                        "peak)");
  bench_cmd->add_option("--seq-len", bench.seq_len, "Override the preset's sequence length");
  bench_cmd->add_option("--batch", bench.batch, "Override the preset's batch size");
  bench_cmd->add_option("--window", bench.window, "attention_window for the LM presets (0 = global)");
  bench_cmd->add_flag("--allreduce", bench.allreduce,
                      "Under mpirun: time MPI_Allreduce of the preset's whole gradient (data-parallel cost)");

  // average
  std::vector<std::string> avg_inputs;
  std::string avg_output;
  auto* avg_cmd = app.add_subcommand("average", "Average checkpoints of one model into a new checkpoint");
  avg_cmd->add_option("checkpoints", avg_inputs, "Checkpoints to average (same model)")->required();
  avg_cmd->add_option("--out,-o", avg_output, "Output checkpoint (written atomically)")->required();

  // bleu
  std::string bleu_ref, bleu_hyp;
  bool bleu_json = false;
  auto* bleu_cmd = app.add_subcommand("bleu", "Corpus BLEU of a hypothesis file against a reference file (sacreBLEU's default)");
  bleu_cmd->add_option("reference", bleu_ref, "Reference translations, one sentence per line")->required();
  bleu_cmd->add_option("hypothesis", bleu_hyp, "System output, line by line aligned with the reference")->required();
  bleu_cmd->add_flag("--json", bleu_json, "Print one JSON object instead of the sacreBLEU line");
  bleu_cmd->footer(
      "Same definition as sacreBLEU's defaults: detokenised text, 13a tokenisation, case-sensitive, 4-grams,\n"
      "brevity penalty over the corpus, 'exp' smoothing (signature nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp).");

  // translate
  std::string tr_ckpt, tr_input;
  tfm::TranslateOptions tr_opts;
  tr_opts.beam = 5;
  tr_opts.length_penalty = 0.6;
  int64_t tr_threads = 0;
  auto* tr_cmd = app.add_subcommand("translate", "Translate sentences (one per line) with an encoder-decoder checkpoint");
  tr_cmd->add_option("checkpoint", tr_ckpt, "Checkpoint of a transformer or rnn-attention model")->required();
  tr_cmd->add_option("--input,-i", tr_input, "Source sentences, one per line (default: stdin)");
  tr_cmd->add_option("--beam", tr_opts.beam, "Beam size; 1 = greedy decoding")->capture_default_str()->check(CLI::PositiveNumber);
  tr_cmd->add_option("--length-penalty", tr_opts.length_penalty,
                     "alpha: hypotheses are ranked by log-probability / length^alpha (0: raw log-probability)")
      ->capture_default_str()->check(CLI::NonNegativeNumber);
  tr_cmd->add_option("--max-len", tr_opts.max_len,
                     "Most tokens generated per sentence (default 0: 2 x source length + 10, at most model.seq_len)")
      ->check(CLI::NonNegativeNumber);
  tr_cmd->add_option("--batch-size", tr_opts.batch_size, "Sentences decoded together")->capture_default_str()->check(CLI::PositiveNumber);
  tr_cmd->add_option("--threads", tr_threads, "OpenMP threads (default: all cores)")->check(CLI::NonNegativeNumber);
  tr_cmd->footer("Translations go to stdout, one line per input line, in input order (detokenised text).");

  // attention
  std::string att_ckpt;
  tfm::AttentionPlotOptions att;
  auto* att_cmd = app.add_subcommand("attention", "Draw the cross-attention weights of one translated sentence (SVG heatmap)");
  att_cmd->add_option("checkpoint", att_ckpt, "Checkpoint of a transformer or rnn-attention model")->required();
  att_cmd->add_option("--source", att.source, "Source sentence")->required();
  att_cmd->add_option("--target", att.target, "Target sentence to force (default: the model's own translation)");
  att_cmd->add_option("--layer", att.layer, "Decoder layer (default -1: the last)")->capture_default_str();
  att_cmd->add_option("--head", att.head, "Attention head (default -1: the mean over heads)")->capture_default_str();
  att_cmd->add_option("--beam", att.beam, "Beam size of the translation")->capture_default_str()->check(CLI::PositiveNumber);
  att_cmd->add_option("--out,-o", att.out, "Output file (.svg)")->required();

  // report
  tfm::report::ReportOptions report;
  auto* report_cmd = app.add_subcommand("report", "Draw the curves of run directories into one self-contained HTML page");
  report_cmd->add_option("run_dirs", report.run_dirs, "Run directories of tfm train (several: overlaid)")->required();
  report_cmd->add_option("--out,-o", report.out, "HTML file to write")->capture_default_str();
  report_cmd->add_option("--x", report.panels.x, "x axis: step | time | tokens")->capture_default_str()
      ->check(CLI::IsMember({"step", "time", "tokens"}));
  report_cmd->add_flag("--log-y", report.panels.log_y, "Log y axis for loss, perplexity and gradient norm");
  report_cmd->add_option("--smooth", report.panels.smooth,
                         "Moving mean over N logged steps (0: about 1/20 of the run, 1: none)")
      ->capture_default_str()->check(CLI::NonNegativeNumber);

  // help
  std::string help_topic;
  auto* help_cmd = app.add_subcommand("help", "Reference: `tfm help config-keys` lists every config key");
  help_cmd->add_option("topic", help_topic, "config-keys")->required();

  // perplexity, generate and translate: the GEMMs' precision (the weights stay fp32).
  std::string infer_precision = "fp32";
  for (CLI::App* cmd : {ppl_cmd, gen_cmd, tr_cmd})
    cmd->add_option("--precision", infer_precision,
                    "fp32 | bf16 | auto: GEMM operands rounded to bf16, fp32 accumulation (auto: bf16 where its GEMM "
                    "ceiling is 1.3x fp32's)")
        ->capture_default_str();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version end parsing with exit code 0; a usage error is bad input (exit 2).
    if (e.get_exit_code() == 0) return app.exit(e);
    std::fprintf(stderr, "error: %s\nRun with --help for more information.\n", e.what());
    return 2;
  }

  if (*train_cmd) {
    tfm::TrainSummary s = tfm::run_training(train);
    if (train_report && tfm::dist::is_root()) {
      std::printf("run: %s\nsteps: %lld\ntokens: %lld\nwall time: %.1f s\nbest val loss: %.4f\nbest val ppl: %.3f\n",
                  s.run_dir.c_str(), static_cast<long long>(s.steps), static_cast<long long>(s.tokens), s.wall_seconds,
                  s.best_val_loss, std::exp(s.best_val_loss));
      std::printf("report: tfm report %s --out %s/report.html\n", s.run_dir.c_str(), s.run_dir.c_str());
    }
    return s.interrupted ? 130 : 0;
  }
  std::optional<tfm::PrecisionScope> precision_scope;
  std::optional<tfm::Bf16WeightCache> bf16_weights;  // inference: the weights never change
  if (*ppl_cmd || *gen_cmd || *tr_cmd) {
    const tfm::PrecisionChoice pc = tfm::choose_precision(infer_precision, tfm::num_threads(), "--precision");
    if (!pc.warning.empty()) std::fprintf(stderr, "warning: %s\n", pc.warning.c_str());
    precision_scope.emplace(pc.precision);
    bf16_weights.emplace();
  }
  if (*ppl_cmd) {
    tfm::PerplexityResult r;
    if (!ppl_source.empty() || !ppl_target.empty()) {
      TFM_CHECK(!ppl_source.empty() && !ppl_target.empty(), "perplexity: --source and --target go together (found only ",
                ppl_source.empty() ? "--target" : "--source", ")");
      TFM_CHECK(ppl_text.empty(), "perplexity: give either TEXTFILE (a language model) or --source and --target ",
                "(an encoder-decoder), not both");
      tfm::LoadedSeq2Seq m = tfm::load_seq2seq(ppl_ckpt);
      std::vector<int64_t> truncated;
      r = tfm::seq2seq_perplexity(*m.model, *m.tokenizer, tfm::read_lines({ppl_source}, ppl_source),
                                  tfm::read_lines({ppl_target}, ppl_target), ppl_batch, &truncated);
      for (int64_t i : truncated)
        std::fprintf(stderr, "warning: line %lld: the pair is longer than model.seq_len = %lld tokens; scored its "
                     "beginning only\n", static_cast<long long>(i + 1), static_cast<long long>(m.model->max_len()));
    } else {
      TFM_CHECK(!ppl_text.empty(), "perplexity: give TEXTFILE (a language model) or --source SRC --target TGT ",
                "(an encoder-decoder)");
      tfm::LoadedLm m = tfm::load_lm(ppl_ckpt);
      const std::string text = tfm::read_file(ppl_text);
      TFM_CHECK(!text.empty(), ppl_text, " is empty");
      r = tfm::perplexity(*m.lm, m.tokenizer->encode(text), ppl_batch);
    }
    std::printf("tokens: %lld\nnll: %.6f nats/token\nperplexity: %.4f\n", static_cast<long long>(r.tokens), r.nll, r.ppl);
    if (ppl_json) std::printf("{\"nll\":%.9g,\"ppl\":%.9g,\"tokens\":%lld}\n", r.nll, r.ppl, static_cast<long long>(r.tokens));
    return 0;
  }
  if (*gen_cmd) {
    tfm::LoadedLm m = tfm::load_lm(gen_ckpt);
    const std::vector<int32_t> prompt = m.tokenizer->encode(gen_prompt);
    std::fputs(gen_prompt.c_str(), stdout);
    tfm::generate(*m.lm, prompt, sampling, [&](int32_t id) {
      const std::string piece = m.tokenizer->decode({id});
      std::fwrite(piece.data(), 1, piece.size(), stdout);
      std::fflush(stdout);
    });
    std::fputc('\n', stdout);
    return 0;
  }
  if (*inspect_cmd) {
    tfm::inspect_checkpoint(inspect_ckpt, std::cout);
    return 0;
  }
  if (*bench_cmd) {
    tfm::check_bench_precision(bench.precision);
    if (bench_peak) {
      if (bench.precision == "fp32") {
        std::printf("fp32 GEMM peak (oneDNN sgemm 1024^3, %d threads): %.1f GFLOP/s\n", bench.threads,
                    tfm::gemm_peak_gflops(bench.threads, true));
        return 0;
      }
      const tfm::GemmPeaks peaks = tfm::measure_gemm_peaks(bench.threads);
      TFM_CHECK(peaks.bf16 > 0, "bench: --precision bf16 needs AVX-512 (oneDNN has no bf16 matmul without it); ",
                "this CPU has none");
      std::printf("bf16 GEMM peak (bf16 operands, fp32 accumulation, 1024^3, %d threads): %.1f GFLOP/s, %.2fx the "
                  "fp32 peak of %.1f GFLOP/s measured interleaved%s\n",
                  bench.threads, peaks.bf16, peaks.bf16 / peaks.fp32, peaks.fp32,
                  peaks.avx512_bf16 ? "" : " (no AVX512-BF16 on this CPU: oneDNN emulates bf16)");
      return 0;
    }
    TFM_CHECK(!bench.preset.empty(), "bench: --preset is required (gpt-tiny, gpt-small, seq2seq)");
    return tfm::run_bench(bench);
  }
  if (*avg_cmd) {
    tfm::average_checkpoints(avg_inputs, avg_output);
    std::printf("averaged %zu checkpoints into %s\n", avg_inputs.size(), avg_output.c_str());
    return 0;
  }
  if (*bleu_cmd) {
    const std::vector<std::string> ref = tfm::read_lines({bleu_ref}, bleu_ref), hyp = tfm::read_lines({bleu_hyp}, bleu_hyp);
    TFM_CHECK(ref.size() == hyp.size(), "bleu: ", bleu_ref, " has ", ref.size(), " lines but ", bleu_hyp, " has ",
              hyp.size(), " (one translation per reference line)");
    const tfm::BleuScore s = tfm::corpus_bleu(hyp, {ref});
    if (bleu_json) {
      nlohmann::json j = {{"name", "BLEU"},
                          {"score", s.score},
                          {"precisions", s.precisions},
                          {"bp", s.bp},
                          {"ratio", s.ratio},
                          {"hyp_len", s.stats.hyp_len},
                          {"ref_len", s.stats.ref_len},
                          {"counts", s.stats.correct},
                          {"totals", s.stats.total},
                          {"signature", "nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp"},
                          {"verbose_score", tfm::format_bleu(s).substr(7)}};
      std::printf("%s\n", j.dump().c_str());
    } else {
      std::printf("%s\n", tfm::format_bleu(s).c_str());
    }
    return 0;
  }
  if (*tr_cmd) {
    if (tr_threads > 0) tfm::set_num_threads(static_cast<int>(tr_threads));
    tfm::translate_command(tr_ckpt, tr_input, tr_opts, std::cout, std::cerr);
    return 0;
  }
  if (*att_cmd) {
    const std::string text = tfm::attention_command(att_ckpt, att);
    std::printf("%s\nwrote %s\n", text.c_str(), att.out.c_str());
    return 0;
  }
  if (*report_cmd) {
    const tfm::report::ReportResult r = tfm::report::run(report);
    std::printf("wrote %s (%d run%s, %d panels%s)\n", r.out.c_str(), r.runs, r.runs == 1 ? "" : "s", r.panels,
                r.in_progress > 0 ? ", a run in progress" : "");
    return 0;
  }
  if (*help_cmd) {
    if (help_topic == "config-keys" || help_topic == "CONFIG-KEYS") {
      std::fputs(tfm::config_keys_help().c_str(), stdout);
      return 0;
    }
    std::fprintf(stderr, "error: unknown help topic \"%s\" (try: config-keys)\n", help_topic.c_str());
    return 2;
  }
  return 0;
}

}  // namespace

// GNU OpenMP spins up to 300,000 iterations in every barrier before it sleeps.
// When another process is busy on one of the cores that spinning starves the
// thread it waits for, and a step becomes 10-40x slower (measured: gpt-tiny
// 38 ms/step with GOMP_SPINCOUNT=0 against 1538 ms with the default, beside a
// busy 2-thread process). libgomp reads its settings when it is loaded, so the
// tool sets a short spin and re-executes itself, unless the user chose a policy.
static void configure_openmp_wait_policy(char** argv) {
  if (std::getenv("OMP_WAIT_POLICY") || std::getenv("GOMP_SPINCOUNT") || std::getenv("TFM_OMP_CONFIGURED")) return;
  setenv("GOMP_SPINCOUNT", TFM_DEFAULT_SPINCOUNT, 1);
  setenv("TFM_OMP_CONFIGURED", "1", 1);
  // The binary's real path, not /proc/self/exe, so that ps and top still call the process "tfm".
  char self[4096];
  const ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) return;
  self[n] = '\0';
  execv(self, argv);  // returns only on failure: then run with the defaults
}

// Reports a failure and ends the process: under mpirun with several ranks, the
// whole job (MPI_Abort), so that no rank waits forever in a collective. When
// every rank fails alike (a bad config), rank 0 reports and aborts at once;
// another rank reports only if the job is still alive a moment later, that is,
// if it alone saw the problem.
static int fail(int code, const char* lead, const char* what) {
  std::fflush(stdout);
  if (tfm::dist::size() > 1) {
    if (!tfm::dist::is_root()) usleep(500 * 1000);
    std::fprintf(stderr, "%serror: rank %d: %s\n", lead, tfm::dist::rank(), what);
    std::fflush(stderr);
    tfm::dist::abort_job(code);
  }
  std::fprintf(stderr, "%serror: %s\n", lead, what);
  return code;
}

int main(int argc, char** argv) {
  configure_openmp_wait_policy(argv);
  tfm::dist::init(&argc, &argv);
  try {
    const int rc = run(argc, argv);
    tfm::dist::finalize();
    return rc;
  } catch (const tfm::RuntimeFailure& e) {
    return fail(1, "\n", e.what());
  } catch (const tfm::Error& e) {
    return fail(2, "", e.what());
  } catch (const std::bad_alloc&) {
    return fail(1, "", "out of memory");
  } catch (const std::exception& e) {
    return fail(1, "", e.what());
  }
}
