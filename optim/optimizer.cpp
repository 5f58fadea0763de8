#include "optim/optimizer.h"

#include <cmath>

namespace tfm {
namespace {
constexpr int64_t kParallelMin = 1 << 14;

class Sgd : public Optimizer {
 public:
  Sgd(const NamedParameters& p, const OptimizerConfig& c) : Optimizer(p, c) {
    if (c.momentum > 0) {
      buffer_names_ = {"momentum"};
      for (auto& s : slots_) s.buffers = {Tensor::zeros(s.param->shape())};
    }
  }
  void step(double lr_d) override {
    ++steps_;
    const float lr = static_cast<float>(lr_d), mu = static_cast<float>(config_.momentum);
    const bool first = steps_ == 1;
    for (auto& s : slots_) {
      if (!s.param->grad().defined()) continue;
      float* w = s.param->mutable_data().data();
      const float* g = s.param->grad().data();
      const float wd = s.decay ? static_cast<float>(config_.weight_decay) : 0.0f;
      const int64_t n = s.param->numel();
      float* buf = s.buffers.empty() ? nullptr : s.buffers[0].data();
      const bool nesterov = config_.nesterov;
#pragma omp parallel for simd schedule(static) if (n > kParallelMin)
      for (int64_t i = 0; i < n; ++i) {
        float d = g[i] + wd * w[i];
        if (buf != nullptr) {
          buf[i] = first ? d : mu * buf[i] + d;  // torch.optim.SGD, dampening 0
          d = nesterov ? d + mu * buf[i] : buf[i];
        }
        w[i] -= lr * d;
      }
    }
  }
};

class Adam : public Optimizer {
 public:
  Adam(const NamedParameters& p, const OptimizerConfig& c, bool decoupled) : Optimizer(p, c), decoupled_(decoupled) {
    buffer_names_ = {"exp_avg", "exp_avg_sq"};
    for (auto& s : slots_) s.buffers = {Tensor::zeros(s.param->shape()), Tensor::zeros(s.param->shape())};
  }
  void step(double lr_d) override {
    ++steps_;
    const double b1 = config_.beta1, b2 = config_.beta2;
    const float beta1 = static_cast<float>(b1), beta2 = static_cast<float>(b2), eps = static_cast<float>(config_.eps);
    // Bias corrections folded into the step size and the denominator (as torch.optim.AdamW).
    const double bc1 = 1.0 - std::pow(b1, static_cast<double>(steps_));
    const double bc2 = 1.0 - std::pow(b2, static_cast<double>(steps_));
    const float step_size = static_cast<float>(lr_d / bc1);
    const float inv_sqrt_bc2 = static_cast<float>(1.0 / std::sqrt(bc2));
    for (auto& s : slots_) {
      if (!s.param->grad().defined()) continue;
      float* w = s.param->mutable_data().data();
      const float* g = s.param->grad().data();
      float* m = s.buffers[0].data();
      float* v = s.buffers[1].data();
      const int64_t n = s.param->numel();
      const float wd = s.decay ? static_cast<float>(config_.weight_decay) : 0.0f;
      const float decay_factor = decoupled_ ? 1.0f - static_cast<float>(lr_d) * wd : 1.0f;
      const float l2 = decoupled_ ? 0.0f : wd;
#pragma omp parallel for simd schedule(static) if (n > kParallelMin)
      for (int64_t i = 0; i < n; ++i) {
        const float gi = g[i] + l2 * w[i];
        m[i] = beta1 * m[i] + (1.0f - beta1) * gi;
        v[i] = beta2 * v[i] + (1.0f - beta2) * gi * gi;
        const float denom = std::sqrt(v[i]) * inv_sqrt_bc2 + eps;
        w[i] = w[i] * decay_factor - step_size * m[i] / denom;
      }
    }
  }

 private:
  bool decoupled_;
};

}  // namespace

Optimizer::Optimizer(const NamedParameters& params, const OptimizerConfig& config) : config_(config) {
  for (auto& [name, p] : params) slots_.push_back({name, p, decays(name, *p, config.decay_embeddings), {}});
}

bool Optimizer::decays(const std::string& name, const Variable& p, bool decay_embeddings) {
  if (p.shape().ndim() < 2) return false;  // biases, LayerNorm gains and shifts
  const bool embedding = name.ends_with("emb.weight");
  return decay_embeddings || !embedding;
}

void Optimizer::zero_grad() {
  for (auto& s : slots_) s.param->zero_grad();
}

std::vector<std::pair<std::string, Tensor>> Optimizer::state() const {
  std::vector<std::pair<std::string, Tensor>> out;
  Tensor step = Tensor::empty({1}, DType::I32);
  step.data_i32()[0] = static_cast<int32_t>(steps_);
  out.emplace_back("optimizer.steps", step);
  for (auto& s : slots_)
    for (size_t k = 0; k < s.buffers.size(); ++k) out.emplace_back(buffer_names_[k] + "." + s.name, s.buffers[k]);
  return out;
}

void Optimizer::load_state(const std::vector<std::pair<std::string, Tensor>>& state) {
  auto find = [&](const std::string& name) -> const Tensor* {
    for (auto& [n, t] : state)
      if (n == name) return &t;
    return nullptr;
  };
  const Tensor* step = find("optimizer.steps");
  TFM_CHECK(step != nullptr && step->dtype() == DType::I32, "optimizer state: missing optimizer.steps");
  TFM_CHECK(step->numel() == 1 && step->data_i32()[0] >= 0, "optimizer state: optimizer.steps must hold one ",
            "non-negative I32 count, found ", step->shape(), step->numel() == 1 ? " = " + std::to_string(step->data_i32()[0]) : "");
  steps_ = step->data_i32()[0];
  for (auto& s : slots_)
    for (size_t k = 0; k < s.buffers.size(); ++k) {
      const std::string name = buffer_names_[k] + "." + s.name;
      const Tensor* t = find(name);
      TFM_CHECK(t != nullptr, "optimizer state: missing tensor \"", name, "\" (was the optimizer changed?)");
      TFM_CHECK(t->shape() == s.buffers[k].shape() && t->dtype() == DType::F32, "optimizer state: tensor \"", name,
                "\": expected F32 ", s.buffers[k].shape(), ", found ", dtype_name(t->dtype()), " ", t->shape());
      s.buffers[k].copy_from(*t);
    }
}

OptimizerRegistry& optimizer_registry() {
  static OptimizerRegistry registry("optimizer");
  return registry;
}

std::unique_ptr<Optimizer> make_optimizer(const NamedParameters& params, const OptimizerConfig& config) {
  return optimizer_registry().get(config.name, "config: optim.name").factory(params, config);
}

namespace {
const ConfigKey kBetas{"betas", "[n, n]", "[0.9, 0.999]", "moment decay rates"};
const ConfigKey kEps{"eps", "number", "1e-8", "added to the denominator"};

TFM_REGISTER_OPTIMIZER(
    "sgd", [](const NamedParameters& p, const OptimizerConfig& c) -> std::unique_ptr<Optimizer> {
      return std::make_unique<Sgd>(p, c);
    },
    "SGD (torch.optim.SGD, dampening 0); weight_decay is L2",
    {{"momentum", "number", "0", ""}, {"nesterov", "bool", "false", "Nesterov momentum (needs momentum > 0)"}});
TFM_REGISTER_OPTIMIZER(
    "adam", [](const NamedParameters& p, const OptimizerConfig& c) -> std::unique_ptr<Optimizer> {
      return std::make_unique<Adam>(p, c, false);
    },
    "Adam (Kingma & Ba 2015, torch.optim.Adam); weight_decay is L2, added to the gradient", {kBetas, kEps});
TFM_REGISTER_OPTIMIZER(
    "adamw", [](const NamedParameters& p, const OptimizerConfig& c) -> std::unique_ptr<Optimizer> {
      return std::make_unique<Adam>(p, c, true);
    },
    "AdamW (Loshchilov & Hutter 2019); weight_decay is decoupled", {kBetas, kEps});
}  // namespace

double grad_norm(const NamedParameters& params) {
  double total = 0.0;
  for (auto& [name, p] : params) {
    if (!p->grad().defined()) continue;
    const float* g = p->grad().data();
    const int64_t n = p->numel();
    double s = 0.0;
    // Fixed chunking: the sum does not depend on the thread count.
    constexpr int64_t kChunk = 1 << 14;
    const int64_t chunks = (n + kChunk - 1) / kChunk;
    std::vector<double> partial(chunks, 0.0);
#pragma omp parallel for schedule(static) if (chunks > 1)
    for (int64_t c = 0; c < chunks; ++c) {
      double acc = 0.0;
      for (int64_t i = c * kChunk; i < std::min(n, (c + 1) * kChunk); ++i) acc += static_cast<double>(g[i]) * g[i];
      partial[c] = acc;
    }
    for (double x : partial) s += x;
    total += s;
  }
  return std::sqrt(total);
}

double clip_grad_norm(const NamedParameters& params, double max_norm) {
  const double norm = grad_norm(params);
  if (max_norm > 0.0 && norm > max_norm && std::isfinite(norm)) {
    const float factor = static_cast<float>(max_norm / (norm + 1e-6));
    for (auto& [name, p] : params) {
      if (!p->grad().defined()) continue;
      float* g = const_cast<float*>(p->grad().data());
      const int64_t n = p->numel();
#pragma omp parallel for simd schedule(static) if (n > kParallelMin)
      for (int64_t i = 0; i < n; ++i) g[i] *= factor;
    }
  }
  return norm;
}

bool grads_finite(const NamedParameters& params) {
  for (auto& [name, p] : params) {
    if (!p->grad().defined()) continue;
    const float* g = p->grad().data();
    for (int64_t i = 0; i < p->numel(); ++i)
      if (!std::isfinite(g[i])) return false;
  }
  return true;
}

}  // namespace tfm
