#pragma once
// Optimizers over named parameters: SGD (momentum, Nesterov), Adam (L2 weight
// decay added to the gradient, as torch.optim.Adam) and AdamW (decoupled weight
// decay, Loshchilov & Hutter 2019). Each update is one vectorised, OpenMP-parallel
// pass over a parameter. State tensors are exposed by name for exact resume.
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "autograd/variable.h"
#include "core/registry.h"

namespace tfm {

using NamedParameters = std::vector<std::pair<std::string, Variable*>>;

struct OptimizerConfig {
  std::string name = "adamw";  // a registered optimizer: sgd | adam | adamw | a user's own
  double lr = 1e-3;
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  double weight_decay = 0.0;
  double momentum = 0.0;   // sgd
  bool nesterov = false;   // sgd
  // Weight decay applies to matrices only: biases, LayerNorm parameters and (unless asked) embeddings are exempt.
  bool decay_embeddings = false;
  // The keys of optim that a registered optimizer declares beyond the ones above (a user's
  // optimizer's own settings), as the config gives them; absent keys are absent.
  nlohmann::json options = nlohmann::json::object();
};

class Optimizer {
 public:
  Optimizer(const NamedParameters& params, const OptimizerConfig& config);
  virtual ~Optimizer() = default;
  // One update with learning rate lr, from the gradients in the parameters.
  virtual void step(double lr) = 0;
  void zero_grad();
  int64_t steps() const { return steps_; }

  // Named state (moments, step count) for checkpoints: "<kind>.<param name>".
  std::vector<std::pair<std::string, Tensor>> state() const;
  // Restores state saved by state(); throws naming any missing or mismatched tensor.
  void load_state(const std::vector<std::pair<std::string, Tensor>>& state);

  // Whether weight decay applies to the named parameter.
  static bool decays(const std::string& name, const Variable& p, bool decay_embeddings);

 protected:
  struct Slot {
    std::string name;
    Variable* param;
    bool decay;
    std::vector<Tensor> buffers;  // per optimizer: momentum, or first and second moments
  };
  std::vector<Slot> slots_;
  std::vector<std::string> buffer_names_;
  OptimizerConfig config_;
  int64_t steps_ = 0;
};

// Optimizers by name (core/registry.h): each registers where it is defined with
// TFM_REGISTER_OPTIMIZER, a user's own included, and config.name picks one.
using OptimizerRegistry = Registry<Optimizer, const NamedParameters&, const OptimizerConfig&>;
OptimizerRegistry& optimizer_registry();

// Throws tfm::Error naming an unknown config.name, the registered ones and the nearest.
std::unique_ptr<Optimizer> make_optimizer(const NamedParameters& params, const OptimizerConfig& config);

// Global L2 norm of all gradients (double accumulation, fixed order).
double grad_norm(const NamedParameters& params);
// Scales gradients so their global norm is at most max_norm; returns the norm before clipping.
double clip_grad_norm(const NamedParameters& params, double max_norm);
// True when every gradient value is finite.
bool grads_finite(const NamedParameters& params);

}  // namespace tfm

// TFM_REGISTER_OPTIMIZER("lion", factory, "help line", {{"beta3", "number", "0.99", "..."}}): factory
// builds a std::unique_ptr<Optimizer> from (const NamedParameters&, const OptimizerConfig&).
#define TFM_REGISTER_OPTIMIZER(...) TFM_REGISTRY_ADD(::tfm::optimizer_registry(), __VA_ARGS__)
