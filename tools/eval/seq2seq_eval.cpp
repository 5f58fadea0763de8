#include "tools/eval/seq2seq_eval.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <iostream>

#include "core/error.h"
#include "core/io.h"
#include "models/checkpoint.h"
#include "tools/eval/heatmap.h"
#include "tools/text/text_files.h"
#include "tools/data/parallel_data.h"
#include "tools/support/progress.h"

namespace tfm {

LoadedSeq2Seq load_seq2seq(const std::string& path) {
  LoadedSeq2Seq out = load_checkpoint_as<Seq2SeqModel>(
      path, "an encoder-decoder (expected " + quoted_list(ModelRegistry::types(DataKind::Parallel)) + ")");
  TFM_CHECK(out.tokenizer->bos_id() >= 0 && out.tokenizer->eos_id() >= 0, path, ": the checkpoint's ",
            out.tokenizer->type(), " tokenizer has no bos/eos ids; translation needs a sentencepiece tokenizer");
  return out;
}

void translate_command(const std::string& checkpoint, const std::string& input, const TranslateOptions& options,
                       std::ostream& out, std::ostream& err) {
  LoadedSeq2Seq m = load_seq2seq(checkpoint);
  std::vector<std::string> lines;
  if (input.empty() || input == "-") {
    std::string line;
    while (std::getline(std::cin, line)) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      lines.push_back(line);
    }
  } else {
    lines = read_lines({input}, input);
  }
  if (lines.empty()) return;
  std::vector<int64_t> truncated;
  // A live "translated N/M sentences | s/s | ETA" line when stderr is a terminal.
  Progress progress;
  TranslateOptions opts = options;
  const auto t0 = std::chrono::steady_clock::now();
  if (progress.interactive())
    opts.on_progress = [&](int64_t done, int64_t total) {
      const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      const double rate = done / std::max(s, 1e-9);
      progress.status("translated " + std::to_string(done) + "/" + std::to_string(total) + " sentences | " +
                      std::to_string(static_cast<int64_t>(rate)) + " sentences/s | ETA " +
                      format_duration((total - done) / std::max(rate, 1e-9)));
    };
  const std::vector<std::string> hyps = translate_lines(*m.model, *m.tokenizer, lines, opts, &truncated);
  progress.finish_status();
  for (int64_t i : truncated)
    err << "warning: line " << i + 1 << ": the source is longer than model.seq_len = " << m.model->max_len()
        << " tokens; translated its beginning only\n";
  for (const std::string& h : hyps) {
    std::string line = h;
    while (!line.empty() && line.back() == '\n') line.pop_back();
    out << line << '\n';
  }
  out.flush();
}

PerplexityResult seq2seq_perplexity(Seq2SeqModel& model, const Tokenizer& tokenizer,
                                    const std::vector<std::string>& sources, const std::vector<std::string>& targets,
                                    int64_t batch_size, std::vector<int64_t>* truncated) {
  TFM_CHECK(sources.size() == targets.size(), "perplexity: the source has ", sources.size(),
            " lines but the target ", targets.size(), " (line i of one must translate line i of the other)");
  TFM_CHECK(!sources.empty(), "perplexity: no sentence pairs");
  TFM_CHECK(batch_size >= 1, "perplexity: --batch-size must be >= 1, found ", batch_size);
  TFM_CHECK(tokenizer.bos_id() >= 0 && tokenizer.eos_id() >= 0, "perplexity: the ", tokenizer.type(),
            " tokenizer has no bos/eos ids");
  const int64_t L = model.max_len();
  std::vector<SentencePair> pairs;
  pairs.reserve(sources.size());
  for (size_t i = 0; i < sources.size(); ++i) {
    SentencePair p{encode_sentence(tokenizer, sources[i]), tokenizer.encode(targets[i])};
    const bool long_source = static_cast<int64_t>(p.source.size()) > L;
    const bool long_target = static_cast<int64_t>(p.target.size()) + 1 > L;
    if (long_source) p.source.resize(static_cast<size_t>(L)), p.source.back() = tokenizer.eos_id();
    if (long_target) p.target.resize(static_cast<size_t>(L - 1));
    if ((long_source || long_target) && truncated) truncated->push_back(static_cast<int64_t>(i));
    pairs.push_back(std::move(p));
  }
  NoGradGuard no_grad;
  const bool was_training = model.training();
  model.eval();
  double nll = 0.0;
  int64_t count = 0;
  for (size_t start = 0; start < pairs.size(); start += static_cast<size_t>(batch_size)) {
    std::vector<const SentencePair*> rows;
    for (size_t i = start; i < std::min(pairs.size(), start + static_cast<size_t>(batch_size)); ++i)
      rows.push_back(&pairs[i]);
    const Batch batch = make_batch(rows, tokenizer.bos_id(), tokenizer.eos_id(), std::max<int32_t>(0, tokenizer.pad_id()));
    const int64_t tokens = batch_target_tokens(batch);
    // The loss is the batch's per-token mean; the sum over batches is kept in double.
    nll += static_cast<double>(model.loss(batch).item()) * static_cast<double>(tokens);
    count += tokens;
  }
  if (was_training) model.train();
  PerplexityResult r;
  r.tokens = count;
  r.nll = nll / static_cast<double>(count);
  r.ppl = std::exp(r.nll);
  return r;
}

std::string token_label(const Tokenizer& tokenizer, int32_t id) {
  if (id == tokenizer.bos_id()) return "<s>";
  if (id == tokenizer.eos_id()) return "</s>";
  if (id == tokenizer.pad_id()) return "<pad>";
  const std::string text = tokenizer.piece(id);
  return text.empty() ? "<unk>" : text;
}

AttentionPlot attention_plot(const std::string& checkpoint, const AttentionPlotOptions& o) {
  TFM_CHECK(!o.source.empty(), "attention: --source is required");
  LoadedSeq2Seq m = load_seq2seq(checkpoint);
  Seq2SeqModel& model = *m.model;
  const Tokenizer& tok = *m.tokenizer;
  TFM_CHECK(o.layer >= -1 && o.layer < model.attention_layers(), "attention: --layer ", o.layer, " out of range [0, ",
            model.attention_layers(), ") (-1: the last)");
  TFM_CHECK(o.head >= -1 && o.head < model.attention_heads(), "attention: --head ", o.head, " out of range [0, ",
            model.attention_heads(), ") (-1: the average over heads)");
  std::vector<int32_t> src = encode_sentence(tok, o.source);
  TFM_CHECK(static_cast<int64_t>(src.size()) <= model.max_len(), "attention: the source has ", src.size(),
            " tokens, more than model.seq_len = ", model.max_len());
  std::vector<int32_t> out_ids;
  if (o.target.empty()) {
    TranslateOptions topt;
    topt.beam = o.beam;
    out_ids = translate_ids(model, {src}, tok.bos_id(), tok.eos_id(), std::max<int32_t>(0, tok.pad_id()), topt)[0];
  } else {
    out_ids = tok.encode(o.target);
  }
  TFM_CHECK(static_cast<int64_t>(out_ids.size()) + 1 <= model.max_len(), "attention: the target has ",
            out_ids.size() + 1, " tokens, more than model.seq_len = ", model.max_len());
  // Decoder inputs bos y1 … yn predict y1 … yn eos: rows are labelled by the token each predicts.
  std::vector<int32_t> input{tok.bos_id()};
  input.insert(input.end(), out_ids.begin(), out_ids.end());
  Tensor source = Tensor::empty({1, static_cast<int64_t>(src.size())}, DType::I32);
  std::copy(src.begin(), src.end(), source.data_i32());
  Tensor target_in = Tensor::empty({1, static_cast<int64_t>(input.size())}, DType::I32);
  std::copy(input.begin(), input.end(), target_in.data_i32());
  const Tensor w = model.cross_attention(source, target_in, o.layer, o.head);  // [T, S]
  std::vector<std::string> src_labels, tgt_labels;
  for (int32_t id : src) src_labels.push_back(token_label(tok, id));
  for (int32_t id : out_ids) tgt_labels.push_back(token_label(tok, id));
  tgt_labels.push_back("</s>");
  std::vector<float> weights(w.data(), w.data() + w.numel());
  std::string title = model.type() + " cross-attention";
  if (model.attention_layers() > 1)
    title += ", decoder layer " + std::to_string(o.layer < 0 ? model.attention_layers() - 1 : o.layer);
  if (model.attention_heads() > 1) title += o.head < 0 ? ", mean of heads" : ", head " + std::to_string(o.head);
  AttentionPlot plot{attention_heatmap_svg(weights, tgt_labels, src_labels, title), tok.decode(out_ids)};
  while (!plot.text.empty() && plot.text.back() == '\n') plot.text.pop_back();
  return plot;
}

std::string attention_command(const std::string& checkpoint, const AttentionPlotOptions& o) {
  TFM_CHECK(!o.out.empty(), "attention: --out FILE.svg is required");
  AttentionPlot plot = attention_plot(checkpoint, o);
  write_file_atomic(o.out, plot.svg);
  return plot.text;
}

}  // namespace tfm
