#include "layers/module.h"

#include <unordered_set>

namespace tfm {

Generator& default_generator() {
  static Generator gen(0);
  return gen;
}

void Module::register_parameter(const std::string& name, Variable& parameter) {
  TFM_CHECK(parameter.defined(), "register_parameter: \"", name, "\" is undefined");
  const ParamRole role = parameter.shape().ndim() == 2 ? ParamRole::Weight
                         : name == "bias"             ? ParamRole::Bias
                                                      : ParamRole::Other;
  register_parameter(name, parameter, role);
}

void Module::register_parameter(const std::string& name, Variable& parameter, ParamRole role) {
  TFM_CHECK(parameter.defined(), "register_parameter: \"", name, "\" is undefined");
  for (const Parameter& p : parameters_)
    TFM_CHECK(p.name != name, "register_parameter: duplicate name \"", name, "\"");
  parameter.set_requires_grad(true);
  parameters_.push_back({name, &parameter, role});
}

void Module::set_parameter_role(const std::string& name, ParamRole role) {
  for (Parameter& p : parameters_)
    if (p.name == name) {
      p.role = role;
      return;
    }
  std::string names;
  for (const Parameter& p : parameters_) names += (names.empty() ? "\"" : ", \"") + p.name + "\"";
  TFM_CHECK(false, "set_parameter_role: no parameter \"", name, "\" in this module (it has ",
            names.empty() ? "none" : names, ")");
}

void Module::reset_parameters(const InitScheme& scheme, Generator& gen) {
  for (Parameter& p : parameters_)
    if (const InitScheme::Fn& fn = scheme[p.role]) fn(*p.variable, gen);
  for (auto& [name, c] : children_) c->reset_parameters(scheme, gen);
}

std::vector<std::pair<std::string, ParamRole>> Module::parameter_roles() const {
  std::vector<std::pair<std::string, ParamRole>> out;
  for (const Parameter& p : parameters_) out.emplace_back(p.name, p.role);
  for (auto& [name, c] : children_)
    for (auto& [n, role] : c->parameter_roles()) out.emplace_back(name + "." + n, role);
  return out;
}

void Module::register_module(const std::string& name, Module& child) {
  for (auto& [n, c] : children_) TFM_CHECK(n != name, "register_module: duplicate name \"", name, "\"");
  children_.emplace_back(name, &child);
}

void Module::collect(const std::string& prefix, std::vector<std::pair<std::string, Variable*>>& out) const {
  for (const Parameter& p : parameters_) out.emplace_back(prefix + p.name, p.variable);
  for (auto& [name, c] : children_) c->collect(prefix + name + ".", out);
}

std::vector<std::pair<std::string, Variable*>> Module::named_parameters() const {
  std::vector<std::pair<std::string, Variable*>> out;
  collect("", out);
  return out;
}

std::vector<std::pair<std::string, const Module*>> Module::named_children() const {
  std::vector<std::pair<std::string, const Module*>> out;
  for (auto& [name, c] : children_) out.emplace_back(name, c);
  return out;
}

void Module::visit_parameters(const std::function<void(const std::string&, Variable&)>& fn) const {
  for (auto& [name, p] : named_parameters()) fn(name, *p);
}

int64_t Module::parameter_count() const {
  std::unordered_set<const VariableImpl*> seen;
  int64_t n = 0;
  for (auto& [name, p] : named_parameters())
    if (seen.insert(p->impl()).second) n += p->numel();
  return n;
}

void Module::train(bool on) {
  training_ = on;
  for (auto& [name, c] : children_) c->train(on);
}

void Module::zero_grad() {
  for (auto& [name, p] : named_parameters()) p->zero_grad();
}

}  // namespace tfm
