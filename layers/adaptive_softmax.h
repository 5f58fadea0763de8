#pragma once
// Adaptive softmax (Grave et al. 2017, "Efficient softmax approximation for
// GPUs"), registered as the output head "adaptive", with the semantics,
// parameter layout and names of PyTorch's nn.AdaptiveLogSoftmaxWithLoss, so a
// checkpoint's head loads into it:
//
// The vocabulary (sorted by frequency, most frequent first, as tfm's word
// tokenizer numbers it) is cut at cutoffs c_0 < … < c_{n−1} into a shortlist
// [0, c_0) and n clusters [c_i, c_{i+1}), c_n = vocab_size.
//   head:      Linear(d_model, c_0 + n, bias = head_bias): the shortlist's
//              logits, then cluster i's logit in column c_0 + i;
//   tail.i:    Linear(d_model, h_i, no bias), then Linear(h_i, c_{i+1} − c_i, no
//              bias), h_i = d_model // div_value^(i+1) (Python's floor division);
//   log p(y) = log_softmax(head)[y] for y < c_0, and for y in cluster i
//              log_softmax(head)[c_0 + i] + log_softmax(tail.i)[y − c_i].
// The training loss computes the head for every row and each tail only for the
// rows whose target falls in its cluster (gathered, then their gradients
// scattered back); logits() gives the exact log-probabilities of the whole
// vocabulary (they sum to 1).
#include <memory>
#include <vector>

#include "layers/head.h"

namespace tfm {

struct AdaptiveSoftmaxOptions {
  std::vector<int64_t> cutoffs;  // as given: c_0 … c_{n−1}
  double div_value = 4.0;
  bool head_bias = false;

  // options: the head's keys (model.head minus "type"); throws naming the key
  // on a missing, unsorted or out-of-range cutoff, for a vocabulary of vocab_size.
  static AdaptiveSoftmaxOptions parse(const nlohmann::json& options, int64_t vocab_size);
  // Width of cluster i's projection, d_model // div_value^(i+1) as Python computes it.
  int64_t projection_width(int64_t d_model, int64_t cluster) const;
};

class AdaptiveSoftmaxHead : public OutputHead {
 public:
  AdaptiveSoftmaxHead(const HeadContext& context, const nlohmann::json& options);
  AdaptiveSoftmaxHead(int64_t d_model, int64_t vocab_size, const AdaptiveSoftmaxOptions& options);

  // The exact log-probabilities of the whole vocabulary, [..., vocab_size].
  Variable logits(const Variable& hidden) override { return log_prob(hidden); }
  Variable log_prob(const Variable& hidden);
  // Mean of −log p(target) over the targets that are not options.ignore_index;
  // label smoothing is refused (it would need every tail for every row).
  Variable loss(const Variable& hidden, const Tensor& targets, const CrossEntropyOptions& options) override;

  int64_t shortlist_size() const { return bounds_[0]; }
  int64_t n_clusters() const { return static_cast<int64_t>(tails_.size()); }
  // c_0, …, c_{n−1}, vocab_size.
  const std::vector<int64_t>& bounds() const { return bounds_; }

  Linear head;
  struct Tail {
    Linear projection, output;  // tail.i.0, tail.i.1
    Tail(int64_t d_model, int64_t width, int64_t size)
        : projection(d_model, width, /*bias=*/false), output(width, size, /*bias=*/false) {}
  };
  const Tail& tail(int64_t i) const { return *tails_[static_cast<size_t>(i)]; }

 private:
  Variable tail_logits(int64_t i, const Variable& x) const;
  int64_t d_model_;
  std::vector<int64_t> bounds_;
  std::vector<std::unique_ptr<Tail>> tails_;
};

}  // namespace tfm
