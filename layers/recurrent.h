#pragma once
// Recurrent layers for the classic encoder-decoder (Luong et al. 2015):
// LSTM and GRU cells and a batch-first LSTM over a sequence, with PyTorch's
// parameter layout and gate order so that weights move between the two.
#include <utility>

#include "layers/basic.h"

namespace tfm {

// The parameters a gated cell shares: weight_ih [gates·H, I], weight_hh
// [gates·H, H], bias_ih and bias_hh [gates·H], PyTorch's names and U(±1/√H).
class GatedCell : public Module {
 public:
  int64_t hidden_size() const { return weight_hh.dim(1); }
  Variable weight_ih, weight_hh, bias_ih, bias_hh;

 protected:
  GatedCell(const char* what, int64_t gates, int64_t input_size, int64_t hidden_size);
};

// One LSTM step (Hochreiter & Schmidhuber 1997, with a forget gate):
//   [i f g o] = x W_ihᵀ + b_ih + h W_hhᵀ + b_hh
//   c' = σ(f) ⊙ c + σ(i) ⊙ tanh(g),  h' = σ(o) ⊙ tanh(c')
// weight_ih [4H, I], weight_hh [4H, H], bias_ih and bias_hh [4H]: PyTorch's nn.LSTMCell.
class LSTMCell : public GatedCell {
 public:
  LSTMCell(int64_t input_size, int64_t hidden_size);
  struct State {
    Variable h, c;  // [batch, hidden]
  };
  State zero_state(int64_t batch) const;
  // x [batch, input]; `pre` optional: x W_ihᵀ + b_ih already computed for this step.
  State forward(const Variable& x, const State& state, const Variable& pre = Variable()) const;
};

// One GRU step (Cho et al. 2014), PyTorch's nn.GRUCell layout ([r z n] gates):
//   r = σ(x W_irᵀ + b_ir + h W_hrᵀ + b_hr), z likewise,
//   n = tanh(x W_inᵀ + b_in + r ⊙ (h W_hnᵀ + b_hn)),  h' = (1 − z) ⊙ n + z ⊙ h
class GRUCell : public GatedCell {
 public:
  GRUCell(int64_t input_size, int64_t hidden_size);
  Variable forward(const Variable& x, const Variable& h) const;
};

// A batch-first LSTM over x [batch, T, input] → outputs [batch, T, hidden] and
// the final state. The input projection of all steps is one GEMM. With
// `lengths` (per batch entry, ≤ T), positions past a sequence's length leave
// its state unchanged (their outputs repeat the last state), so the final
// state is the state after each sequence's own last token, as PyTorch's packed sequences.
class LSTM : public Module {
 public:
  LSTM(int64_t input_size, int64_t hidden_size);
  std::pair<Variable, LSTMCell::State> forward(const Variable& x, const LSTMCell::State* initial = nullptr,
                                               const std::vector<int64_t>* lengths = nullptr) const;
  LSTMCell cell;
};

}  // namespace tfm
