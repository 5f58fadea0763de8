#include "layers/recurrent.h"

#include <cmath>

#include "layers/init.h"

namespace tfm {
namespace {

// PyTorch's recurrent initialisation: every parameter U(±1/√hidden).
Variable uniform_parameter(std::initializer_list<int64_t> shape, int64_t hidden) {
  Variable p(Tensor::empty(Shape(shape)), true);
  const float bound = 1.0f / std::sqrt(static_cast<float>(hidden));
  init::uniform(p, -bound, bound, default_generator());
  return p;
}

}  // namespace

GatedCell::GatedCell(const char* what, int64_t gates, int64_t input_size, int64_t hidden_size) {
  TFM_CHECK(input_size > 0 && hidden_size > 0, what, ": sizes must be positive, found input=", input_size,
            " hidden=", hidden_size);
  weight_ih = uniform_parameter({gates * hidden_size, input_size}, hidden_size);
  weight_hh = uniform_parameter({gates * hidden_size, hidden_size}, hidden_size);
  bias_ih = uniform_parameter({gates * hidden_size}, hidden_size);
  bias_hh = uniform_parameter({gates * hidden_size}, hidden_size);
  register_parameter("weight_ih", weight_ih, ParamRole::Weight);
  register_parameter("weight_hh", weight_hh, ParamRole::Weight);
  register_parameter("bias_ih", bias_ih, ParamRole::Bias);
  register_parameter("bias_hh", bias_hh, ParamRole::Bias);
}

LSTMCell::LSTMCell(int64_t input_size, int64_t hidden_size) : GatedCell("LSTM", 4, input_size, hidden_size) {}

LSTMCell::State LSTMCell::zero_state(int64_t batch) const {
  return {Variable(Tensor::zeros({batch, hidden_size()})), Variable(Tensor::zeros({batch, hidden_size()}))};
}

LSTMCell::State LSTMCell::forward(const Variable& x, const State& s, const Variable& pre) const {
  const int64_t H = hidden_size();
  const Variable gates = add(pre.defined() ? pre : linear(x, weight_ih, bias_ih), linear(s.h, weight_hh, bias_hh));
  const Variable i = sigmoid(slice_last(gates, 0, H)), f = sigmoid(slice_last(gates, H, 2 * H));
  const Variable g = tanh(slice_last(gates, 2 * H, 3 * H)), o = sigmoid(slice_last(gates, 3 * H, 4 * H));
  const Variable c = add(mul(f, s.c), mul(i, g));
  return {mul(o, tanh(c)), c};
}

GRUCell::GRUCell(int64_t input_size, int64_t hidden_size) : GatedCell("GRU", 3, input_size, hidden_size) {}

Variable GRUCell::forward(const Variable& x, const Variable& h) const {
  const int64_t H = hidden_size();
  const Variable gi = linear(x, weight_ih, bias_ih), gh = linear(h, weight_hh, bias_hh);
  const Variable r = sigmoid(add(slice_last(gi, 0, H), slice_last(gh, 0, H)));
  const Variable z = sigmoid(add(slice_last(gi, H, 2 * H), slice_last(gh, H, 2 * H)));
  const Variable n = tanh(add(slice_last(gi, 2 * H, 3 * H), mul(r, slice_last(gh, 2 * H, 3 * H))));
  // (1 − z) ⊙ n + z ⊙ h = n + z ⊙ (h − n)
  return add(n, mul(z, sub(h, n)));
}

LSTM::LSTM(int64_t input_size, int64_t hidden_size) : cell(input_size, hidden_size) {
  // PyTorch's nn.LSTM names (one layer).
  register_parameter("weight_ih_l0", cell.weight_ih, ParamRole::Weight);
  register_parameter("weight_hh_l0", cell.weight_hh, ParamRole::Weight);
  register_parameter("bias_ih_l0", cell.bias_ih, ParamRole::Bias);
  register_parameter("bias_hh_l0", cell.bias_hh, ParamRole::Bias);
}

std::pair<Variable, LSTMCell::State> LSTM::forward(const Variable& x, const LSTMCell::State* initial,
                                                   const std::vector<int64_t>* lengths) const {
  TFM_CHECK(x.shape().ndim() == 3 && x.dim(2) == cell.weight_ih.dim(1), "LSTM: input must be [batch, T, ",
            cell.weight_ih.dim(1), "], found ", x.shape());
  const int64_t B = x.dim(0), T = x.dim(1), H = cell.hidden_size();
  if (lengths)
    TFM_CHECK(static_cast<int64_t>(lengths->size()) == B, "LSTM: ", lengths->size(), " lengths for a batch of ", B);
  const Variable pre = linear(x, cell.weight_ih, cell.bias_ih);  // all steps at once: [B, T, 4H]
  LSTMCell::State s = initial ? *initial : cell.zero_state(B);
  std::vector<Variable> outputs;
  outputs.reserve(static_cast<size_t>(T));
  for (int64_t t = 0; t < T; ++t) {
    LSTMCell::State next = cell.forward(Variable(), s, time_step(pre, t));
    bool any_done = false;
    if (lengths)
      for (int64_t b = 0; b < B; ++b) any_done = any_done || t >= (*lengths)[b];
    if (any_done) {
      // Finished sequences keep their state: s + m ⊙ (next − s), m = 1 for the running rows.
      Tensor m = Tensor::empty({B, H});
      for (int64_t b = 0; b < B; ++b)
        std::fill(m.data() + b * H, m.data() + (b + 1) * H, t < (*lengths)[b] ? 1.0f : 0.0f);
      const Variable mask(m);
      next = {add(s.h, mul(mask, sub(next.h, s.h))), add(s.c, mul(mask, sub(next.c, s.c)))};
    }
    s = next;
    outputs.push_back(s.h);
  }
  return {stack_steps(outputs), s};
}

}  // namespace tfm
