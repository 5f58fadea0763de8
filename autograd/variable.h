#pragma once
// Variable: a tensor with its gradient and the node that produced it (a dynamic
// tape, as in PyTorch). Ops record a closure that calls the matching backward
// kernel; Variable::backward() runs the closures in reverse creation order,
// accumulates gradients into the leaves and frees the graph.
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "core/tensor.h"

namespace tfm {

struct Node;

struct VariableImpl {
  Tensor data;
  Tensor grad;  // undefined until the first gradient arrives
  bool requires_grad = false;
  std::shared_ptr<Node> grad_fn;  // null for leaves
};

class Variable {
 public:
  Variable() = default;
  explicit Variable(Tensor data, bool requires_grad = false);

  bool defined() const { return impl_ != nullptr; }
  const Tensor& data() const { return impl_->data; }
  Tensor& mutable_data() { return impl_->data; }
  const Shape& shape() const { return impl_->data.shape(); }
  int64_t dim(int i) const { return impl_->data.dim(i); }
  int64_t numel() const { return impl_->data.numel(); }
  bool requires_grad() const { return impl_ && impl_->requires_grad; }
  void set_requires_grad(bool r);
  bool is_leaf() const { return impl_->grad_fn == nullptr; }

  // The gradient (undefined before backward for this variable).
  const Tensor& grad() const { return impl_->grad; }
  // The gradient, allocated as zeros on first use.
  Tensor& ensure_grad();
  void zero_grad();  // keeps the buffer, sets it to zero
  void reset_grad() { impl_->grad = Tensor(); }

  // Back-propagates from this variable; a one-element variable is seeded with 1.
  void backward();
  void backward(const Tensor& grad_output);

  Variable detach() const;  // same data, no history, no grad
  float item() const { return impl_->data.item(); }

  VariableImpl* impl() const { return impl_.get(); }
  const std::shared_ptr<VariableImpl>& impl_ptr() const { return impl_; }

 private:
  std::shared_ptr<VariableImpl> impl_;
};

// Backward closure: receives the gradient of the node's output.
using BackwardFn = std::function<void(const Tensor& grad_output)>;

struct Node {
  const char* name = "";
  uint64_t sequence = 0;  // creation order: reverse order is a topological order
  std::vector<std::shared_ptr<VariableImpl>> inputs;
  BackwardFn backward;
  VariableImpl* output = nullptr;  // owner of this node
};

// Gradient recording: disabled inside a NoGradGuard (evaluation, inference).
bool grad_enabled();
class NoGradGuard {
 public:
  NoGradGuard();
  ~NoGradGuard();
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool previous_;
};

// Gradient-ready hook: while a GradReadyHookGuard is alive on this thread,
// Variable::backward() calls the hook with each leaf that requires a gradient
// as soon as the last node writing into that leaf's gradient has run (its
// gradient is final for this backward pass). Data-parallel training starts
// reducing a bucket of gradients there while the rest of the backward pass runs.
// Leaves the graph does not reach are not reported.
using GradReadyHook = std::function<void(VariableImpl* leaf)>;
class GradReadyHookGuard {
 public:
  explicit GradReadyHookGuard(GradReadyHook hook);
  ~GradReadyHookGuard();
  GradReadyHookGuard(const GradReadyHookGuard&) = delete;
  GradReadyHookGuard& operator=(const GradReadyHookGuard&) = delete;

 private:
  GradReadyHook hook_;
  const GradReadyHook* previous_;
};

// Wraps an op's result: records `backward` when recording is on and any input
// requires a gradient, otherwise returns a plain variable.
Variable make_result(Tensor out, std::span<const Variable* const> inputs, const char* name, BackwardFn backward);
inline Variable make_result(Tensor out, std::initializer_list<const Variable*> inputs, const char* name,
                            BackwardFn backward) {
  return make_result(std::move(out), std::span<const Variable* const>(inputs.begin(), inputs.size()), name,
                     std::move(backward));
}

// Gradient buffer of v for a backward closure: null when v needs no gradient.
inline float* grad_ptr(const Variable& v) { return v.requires_grad() ? v.impl()->grad.data() : nullptr; }

}  // namespace tfm
