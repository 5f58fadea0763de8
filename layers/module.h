#pragma once
// Module: the base of every layer and model (as PyTorch's nn.Module). Modules
// own their parameters and children as plain members and register them by
// name, so names compose hierarchically ("blocks.3.attn.q.weight") for
// checkpoints, optimizers and `tfm inspect`. Modules are neither copyable nor
// movable: registration keeps pointers to the members.
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "autograd/variable.h"
#include "core/rng.h"
#include "layers/init.h"

namespace tfm {

class Module {
 public:
  Module() = default;
  virtual ~Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  // All parameters, depth first in registration order, with full names.
  std::vector<std::pair<std::string, Variable*>> named_parameters() const;
  std::vector<std::pair<std::string, const Module*>> named_children() const;
  void visit_parameters(const std::function<void(const std::string&, Variable&)>& fn) const;
  int64_t parameter_count() const;  // elements; a parameter registered twice (tied) counts once

  // Initialise every parameter by the role its module declared, own parameters
  // first, then the children depth first (named_parameters' order, so the draws
  // from gen are reproducible). A module with an initialisation of its own
  // overrides this (PyTorch's reset_parameters()).
  virtual void reset_parameters(const InitScheme& scheme, Generator& gen);
  // Each parameter with its role, in named_parameters' order.
  std::vector<std::pair<std::string, ParamRole>> parameter_roles() const;
  // Changes the role of a parameter registered by this module (a block marks its
  // output projection: out.set_parameter_role("weight", ParamRole::ResidualWeight)).
  // Throws when there is no such parameter.
  void set_parameter_role(const std::string& name, ParamRole role);

  void train(bool on = true);
  void eval() { train(false); }
  bool training() const { return training_; }
  void zero_grad();

 protected:
  // role: what the parameter is, for reset_parameters. Left out, a 2-D parameter
  // is a Weight, one named "bias" a Bias, and anything else Other.
  void register_parameter(const std::string& name, Variable& parameter);
  void register_parameter(const std::string& name, Variable& parameter, ParamRole role);
  void register_module(const std::string& name, Module& child);

 private:
  void collect(const std::string& prefix, std::vector<std::pair<std::string, Variable*>>& out) const;
  struct Parameter {
    std::string name;
    Variable* variable;
    ParamRole role;
  };
  std::vector<Parameter> parameters_;
  std::vector<std::pair<std::string, Module*>> children_;
  bool training_ = true;
};

// Process-wide generator for dropout masks and default initialisation, as
// PyTorch's default generator: seed it once; the trainer saves its state.
Generator& default_generator();

}  // namespace tfm
