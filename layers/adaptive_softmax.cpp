#include "layers/adaptive_softmax.h"

#include <algorithm>
#include <cmath>

#include "core/config.h"
#include "core/precision.h"

namespace tfm {

namespace {
// Python's float floor division a // b for a >= 0, b > 0 (CPython's float_floor_div):
// fmod first, so that 1 // 0.1 is 9 as in PyTorch's module, where floor(1 / 0.1) is 10.
double python_floor_div(double a, double b) {
  const double mod = std::fmod(a, b);
  const double div = (a - mod) / b;
  if (div == 0.0) return 0.0;
  double floor_div = std::floor(div);
  if (div - floor_div > 0.5) floor_div += 1.0;
  return floor_div;
}

// The cutoffs: numbers with integral values, each in (0, vocab_size), increasing.
std::vector<int64_t> parse_cutoffs(const nlohmann::json& c, int64_t vocab_size) {
  TFM_CHECK(c.is_array() && !c.empty(), "config: model.head.cutoffs: expected a non-empty array of increasing ",
            "token ids where the shortlist and each cluster end, e.g. [2000, 10000], found ", c.dump());
  std::vector<int64_t> out;
  for (size_t i = 0; i < c.size(); ++i) {
    const std::string key = "config: model.head.cutoffs[" + std::to_string(i) + "]";
    TFM_CHECK(c[i].is_number() && std::floor(c[i].get<double>()) == c[i].get<double>(), key,
              ": expected an integer, found ", c[i].dump());
    const double v = c[i].get<double>();
    TFM_CHECK(v > 0 && v < static_cast<double>(vocab_size), key, " = ", c[i].dump(),
              " is outside (0, vocab_size = ", vocab_size, ")");
    out.push_back(static_cast<int64_t>(v));
    TFM_CHECK(i == 0 || out[i] > out[i - 1], "config: model.head.cutoffs must increase: cutoffs[", i - 1,
              "] = ", out[i - 1], ", cutoffs[", i, "] = ", out[i]);
  }
  return out;
}
}  // namespace

AdaptiveSoftmaxOptions AdaptiveSoftmaxOptions::parse(const nlohmann::json& options, int64_t vocab_size) {
  const nlohmann::json opts = options.is_null() ? nlohmann::json::object() : options;
  TFM_CHECK(opts.is_object(), "config: model.head: expected {\"type\": \"adaptive\", \"cutoffs\": [...], ...}, found ",
            opts.dump());
  ConfigReader r(opts, "model.head");
  TFM_CHECK(r.has("cutoffs"), "config: model.head.cutoffs is required by the \"adaptive\" head (the token ids ",
            "where the shortlist and each cluster end, e.g. [2000, 10000])");
  AdaptiveSoftmaxOptions o;
  o.cutoffs = parse_cutoffs(r.get_json("cutoffs"), vocab_size);
  o.div_value = r.get_number("div_value", o.div_value, 1.0, 1e6);
  o.head_bias = r.get_bool("head_bias", o.head_bias);
  r.finish();
  return o;
}

int64_t AdaptiveSoftmaxOptions::projection_width(int64_t d_model, int64_t cluster) const {
  return static_cast<int64_t>(
      python_floor_div(static_cast<double>(d_model), std::pow(div_value, static_cast<double>(cluster + 1))));
}

AdaptiveSoftmaxHead::AdaptiveSoftmaxHead(const HeadContext& context, const nlohmann::json& options)
    : AdaptiveSoftmaxHead(context.d_model, context.vocab_size,
                          AdaptiveSoftmaxOptions::parse(options, context.vocab_size)) {
  TFM_CHECK(context.tied_embedding == nullptr, "config: model.head \"adaptive\" has no weight to share with the ",
            "token embedding: set model.tie_embeddings to false");
}

AdaptiveSoftmaxHead::AdaptiveSoftmaxHead(int64_t d_model, int64_t vocab_size, const AdaptiveSoftmaxOptions& o)
    : head(d_model, o.cutoffs.at(0) + static_cast<int64_t>(o.cutoffs.size()), o.head_bias), d_model_(d_model) {
  bounds_ = o.cutoffs;
  bounds_.push_back(vocab_size);
  TFM_CHECK(bounds_.back() > bounds_[bounds_.size() - 2], "adaptive softmax: the last cutoff ",
            bounds_[bounds_.size() - 2], " must be below vocab_size ", vocab_size);
  register_module("head", head);
  for (size_t i = 0; i + 1 < bounds_.size(); ++i) {
    const int64_t width = o.projection_width(d_model, static_cast<int64_t>(i));
    TFM_CHECK(width >= 1, "config: model.head: cluster ", i, "'s projection width d_model // div_value^", i + 1, " = ",
              d_model, " // ", o.div_value, "^", i + 1, " is 0; use a smaller div_value or fewer cutoffs");
    tails_.push_back(std::make_unique<Tail>(d_model, width, bounds_[i + 1] - bounds_[i]));
    register_module("tail." + std::to_string(i) + ".0", tails_.back()->projection);
    register_module("tail." + std::to_string(i) + ".1", tails_.back()->output);
  }
}

Variable AdaptiveSoftmaxHead::tail_logits(int64_t i, const Variable& x) const {
  const Tail& t = *tails_[static_cast<size_t>(i)];
  return t.output(t.projection(x));
}

Variable AdaptiveSoftmaxHead::log_prob(const Variable& hidden) {
  TFM_CHECK(hidden.shape().ndim() >= 1 && hidden.shape().last() == d_model_, "adaptive softmax: hidden states ",
            hidden.shape(), " do not end in d_model = ", d_model_);
  const int64_t rows = hidden.shape().rows();
  const Variable x = reshape(hidden, Shape({rows, d_model_}));
  std::vector<Variable> clusters;
  for (int64_t i = 0; i < n_clusters(); ++i) clusters.push_back(log_softmax(tail_logits(i, x)));
  Shape out_shape = hidden.shape();
  out_shape[out_shape.ndim() - 1] = bounds_.back();
  return reshape(adaptive_log_prob(log_softmax(head(x)), clusters), out_shape);
}

namespace {
// Rows of a tail's GEMMs for n routed rows out of total. Under bf16 each GEMM
// shape is a oneDNN primitive, created once and cached, so n (which varies from
// step to step) is rounded up to one of few sizes, 2^k·{1, 1.25, 1.5, 1.75} (at
// least 16, at most total): a bounded set of primitives, under 25% padding. The
// fp32 GEMMs (sgemm) cache nothing: no padding.
int64_t gemm_rows(int64_t n, int64_t total) {
  if (!bf16_compute()) return n;
  int64_t base = 16;
  while (base * 2 <= n) base *= 2;
  const int64_t step = base / 4, padded = n <= 16 ? 16 : (n + step - 1) / step * step;
  return std::min(padded, total);
}

// Which rows each cluster scores: the head's target of each row (the word in the
// shortlist, or shortlist + i for cluster i, −1 when ignored) and, per cluster,
// the rows and their targets within the cluster.
struct Routing {
  Tensor head_targets;
  std::vector<std::vector<int32_t>> rows, targets;
  int64_t count = 0;  // rows not ignored
};

Routing route(const Tensor& targets, const std::vector<int64_t>& bounds, int32_t ignore_index) {
  const int64_t rows = targets.numel(), n_clusters = static_cast<int64_t>(bounds.size()) - 1;
  Routing r;
  r.head_targets = Tensor::empty({rows}, DType::I32);
  r.rows.resize(static_cast<size_t>(n_clusters));
  r.targets.resize(static_cast<size_t>(n_clusters));
  const int32_t* t = targets.data_i32();
  for (int64_t i = 0; i < rows; ++i) {
    int32_t& head_target = r.head_targets.data_i32()[i];
    if (t[i] == ignore_index) {
      head_target = -1;
      continue;
    }
    TFM_CHECK(t[i] >= 0 && t[i] < bounds.back(), "adaptive softmax: target ", t[i], " at row ", i, " out of range [0, ",
              bounds.back(), ")");
    ++r.count;
    if (t[i] < bounds[0]) {
      head_target = t[i];
      continue;
    }
    const int64_t c = std::upper_bound(bounds.begin(), bounds.end(), t[i]) - bounds.begin() - 1;
    head_target = static_cast<int32_t>(bounds[0] + c);
    r.rows[static_cast<size_t>(c)].push_back(static_cast<int32_t>(i));
    r.targets[static_cast<size_t>(c)].push_back(static_cast<int32_t>(t[i] - bounds[static_cast<size_t>(c)]));
  }
  return r;
}

// The first n entries of values, then fill up to size.
Tensor ids_padded(const std::vector<int32_t>& values, int64_t size, int32_t fill) {
  Tensor t = Tensor::empty({size}, DType::I32);
  std::copy(values.begin(), values.end(), t.data_i32());
  std::fill(t.data_i32() + values.size(), t.data_i32() + size, fill);
  return t;
}
}  // namespace

Variable AdaptiveSoftmaxHead::loss(const Variable& hidden, const Tensor& targets, const CrossEntropyOptions& options) {
  TFM_CHECK(options.label_smoothing == 0.0f, "model.head \"adaptive\" does not support label smoothing (found ",
            options.label_smoothing, "; set optim.label_smoothing to 0): it would need every cluster for every row");
  TFM_CHECK(options.z_loss == 0.0f, "model.head \"adaptive\" does not support z-loss (found train.z_loss = ",
            options.z_loss, "; set it to 0): its log-probabilities are normalised per cluster, with no one log Z");
  TFM_CHECK(targets.dtype() == DType::I32, "adaptive softmax: targets must be I32, found ",
            dtype_name(targets.dtype()));
  TFM_CHECK(hidden.shape().ndim() >= 1 && hidden.shape().last() == d_model_, "adaptive softmax: hidden states ",
            hidden.shape(), " do not end in d_model = ", d_model_);
  const int64_t rows = hidden.shape().rows();
  TFM_CHECK(targets.numel() == rows, "adaptive softmax: hidden states ", hidden.shape(), " need ", rows,
            " targets, found ", targets.shape());
  const Variable x = reshape(hidden, Shape({rows, d_model_}));
  const Routing r = route(targets, bounds_, options.ignore_index);
  // −(1/count)·Σ_rows log p(y) = the head's mean cross-entropy + Σ_i (n_i/count)·(cluster i's mean).
  Variable total = cross_entropy(head(x), r.head_targets, {.ignore_index = -1});
  for (int64_t i = 0; i < n_clusters(); ++i) {
    const std::vector<int32_t>& selected = r.rows[static_cast<size_t>(i)];
    if (selected.empty()) continue;
    const int64_t n = static_cast<int64_t>(selected.size()), m = gemm_rows(n, rows);
    // Padding rows repeat the first selected row with an ignored target: no loss, zero gradient.
    const Variable gathered = embedding(ids_padded(selected, m, selected[0]), x);
    const Tensor cluster_targets = ids_padded(r.targets[static_cast<size_t>(i)], m, -1);
    const Variable ce = cross_entropy(tail_logits(i, gathered), cluster_targets, {.ignore_index = -1});
    total = total + scale(ce, static_cast<float>(static_cast<double>(n) / static_cast<double>(r.count)));
  }
  return total;
}

namespace {
// No weight to share with the embedding; the loss scores the shortlist and the targets' clusters only.
constexpr HeadTraits kAdaptiveTraits{.ties_to_embedding = false, .scores_whole_vocabulary = false};
}  // namespace

TFM_REGISTER_HEAD("adaptive", AdaptiveSoftmaxHead, kAdaptiveTraits,
                  "adaptive softmax (Grave et al. 2017), PyTorch's AdaptiveLogSoftmaxWithLoss: a shortlist, then "
                  "clusters of rarer tokens behind narrower projections; needs tie_embeddings false",
                  {{"cutoffs", "[int]", "required",
                    "increasing ids in (0, vocab): the shortlist ends at the first, "
                    "each cluster at the next (the last at vocab)"},
                   {"div_value", "number", "4.0", "cluster i's projection width is d_model // div_value^(i+1)"},
                   {"head_bias", "bool", "false", "bias in the head Linear"}});

}  // namespace tfm
