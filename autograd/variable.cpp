#include "autograd/variable.h"

#include <algorithm>
#include <atomic>
#include <unordered_map>

namespace tfm {
namespace {
thread_local bool t_grad_enabled = true;
thread_local const GradReadyHook* t_grad_ready_hook = nullptr;
std::atomic<uint64_t> g_sequence{0};

Tensor& ensure_grad_of(VariableImpl* v) {
  if (!v->grad.defined()) v->grad = Tensor::zeros(v->data.shape());
  return v->grad;
}
}  // namespace

bool grad_enabled() { return t_grad_enabled; }
NoGradGuard::NoGradGuard() : previous_(t_grad_enabled) { t_grad_enabled = false; }
NoGradGuard::~NoGradGuard() { t_grad_enabled = previous_; }

GradReadyHookGuard::GradReadyHookGuard(GradReadyHook hook) : hook_(std::move(hook)), previous_(t_grad_ready_hook) {
  t_grad_ready_hook = &hook_;
}
GradReadyHookGuard::~GradReadyHookGuard() { t_grad_ready_hook = previous_; }

Variable::Variable(Tensor data, bool requires_grad) : impl_(std::make_shared<VariableImpl>()) {
  impl_->data = std::move(data);
  impl_->requires_grad = requires_grad;
}

void Variable::set_requires_grad(bool r) {
  TFM_CHECK(is_leaf(), "set_requires_grad: only leaf variables can change requires_grad");
  impl_->requires_grad = r;
}

Tensor& Variable::ensure_grad() { return ensure_grad_of(impl_.get()); }

void Variable::zero_grad() {
  if (impl_->grad.defined()) impl_->grad.zero();
}

Variable Variable::detach() const { return Variable(impl_->data, false); }

void Variable::backward() {
  TFM_CHECK(numel() == 1, "backward: implicit gradient needs a one-element output, found shape ", shape(),
            "; pass grad_output");
  backward(Tensor::full(shape(), 1.0f));
}

void Variable::backward(const Tensor& grad_output) {
  TFM_CHECK(requires_grad(), "backward: variable does not require grad (no parameter reaches it)");
  TFM_CHECK(grad_output.shape() == shape(), "backward: grad_output shape ", grad_output.shape(),
            " differs from output shape ", shape());
  Tensor& g = ensure_grad();
  float* gp = g.data();
  const float* src = grad_output.data();
  for (int64_t i = 0; i < g.numel(); ++i) gp[i] += src[i];
  if (is_leaf()) return;

  // Collect the graph reachable from this variable.
  std::vector<std::shared_ptr<Node>> nodes;
  std::vector<Node*> stack{impl_->grad_fn.get()};
  nodes.push_back(impl_->grad_fn);
  // Mark visited by swapping sequence's top bit (restored below).
  constexpr uint64_t kVisited = uint64_t{1} << 63;
  impl_->grad_fn->sequence |= kVisited;
  while (!stack.empty()) {
    Node* n = stack.back();
    stack.pop_back();
    for (auto& in : n->inputs) {
      if (in->grad_fn && !(in->grad_fn->sequence & kVisited)) {
        in->grad_fn->sequence |= kVisited;
        nodes.push_back(in->grad_fn);
        stack.push_back(in->grad_fn.get());
      }
    }
  }
  for (auto& n : nodes) n->sequence &= ~kVisited;
  std::sort(nodes.begin(), nodes.end(), [](const auto& a, const auto& b) { return a->sequence > b->sequence; });

  // An intermediate may be owned only by its consumers' nodes: keep it alive
  // until its own node has run (its gradient is still needed), then release it.
  std::unordered_map<const Node*, std::shared_ptr<VariableImpl>> pending;
  // With a gradient-ready hook: the index of the last node (in execution order)
  // that has each gradient-requiring leaf as an input.
  const GradReadyHook* hook = t_grad_ready_hook;
  std::unordered_map<const VariableImpl*, size_t> last_use;
  if (hook)
    for (size_t i = 0; i < nodes.size(); ++i)
      for (auto& in : nodes[i]->inputs)
        if (!in->grad_fn && in->requires_grad) last_use[in.get()] = i;
  for (size_t i = 0; i < nodes.size(); ++i) {
    auto& n = nodes[i];
    VariableImpl* out = n->output;
    if (out->grad.defined() && n->backward) {
      for (auto& in : n->inputs) ensure_grad_of(in.get());
      n->backward(out->grad);
    }
    if (hook)
      for (auto& in : n->inputs)
        if (!in->grad_fn && in->requires_grad) {
          auto it = last_use.find(in.get());
          if (it != last_use.end() && it->second == i) {
            last_use.erase(it);  // a leaf used twice by one node is reported once
            (*hook)(in.get());
          }
        }
    for (auto& in : n->inputs)
      if (in->grad_fn) pending.emplace(in->grad_fn.get(), in);
    // Free as we go: closures hold saved activations; non-leaf grads are not kept.
    n->backward = nullptr;
    n->inputs.clear();
    out->grad = Tensor();
    out->grad_fn.reset();
    pending.erase(n.get());  // may destroy *out
  }
}

Variable make_result(Tensor out, std::span<const Variable* const> inputs, const char* name, BackwardFn backward) {
  Variable result(std::move(out), false);
  if (!t_grad_enabled) return result;
  bool any = false;
  for (const Variable* v : inputs) any = any || (v->defined() && v->requires_grad());
  if (!any) return result;
  auto node = std::make_shared<Node>();
  node->name = name;
  node->sequence = g_sequence.fetch_add(1);
  for (const Variable* v : inputs)
    if (v->defined() && v->requires_grad()) node->inputs.push_back(v->impl_ptr());
  node->backward = std::move(backward);
  node->output = result.impl();
  result.impl()->requires_grad = true;
  result.impl()->grad_fn = std::move(node);
  return result;
}

}  // namespace tfm
