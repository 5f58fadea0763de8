#pragma once
// When a run stops: max_steps, max_time (rank 0's clock), a stop request
// (a signal, when the caller opted in with SignalStop, or a callback), agreed
// by all MPI ranks in one small reduction per step together with the loss.
#include <cstdint>
#include <functional>

namespace tfm {

// While one lives, SIGINT and SIGTERM ask for a stop after the step in progress (the
// `tfm` binary installs one; a library user opts in). A second signal ends the process
// at once, except when `second_signal_kills` is false (under mpirun, which sends SIGTERM
// more than once while it stops a job). The handlers are restored to the defaults after.
class SignalStop {
 public:
  explicit SignalStop(bool second_signal_kills = true);
  ~SignalStop();
  SignalStop(const SignalStop&) = delete;
  SignalStop& operator=(const SignalStop&) = delete;
  // A signal has arrived since the latest SignalStop was made (false when none lives).
  static bool requested();
};

// What the ranks agreed on after a step.
struct StepAgreement {
  double loss_sum = 0.0;        // the mean over the ranks of their weighted losses
  double z_loss_sum = 0.0;      // the same of their z-loss terms (train.z_loss)
  bool stop_requested = false;  // by any rank
  bool time_up = false;         // rank 0's clock reached max_time
  double probe_elapsed = 0.0;   // rank 0's elapsed time, when asked for (else 0)
};

class StopPolicy {
 public:
  // max_time 0: no limit. `requested` (may be empty) is asked once per step on every rank.
  StopPolicy(int64_t max_steps, double max_time, std::function<bool()> requested);
  // Before the first step: nothing is left to do.
  bool finished(int64_t step, double elapsed) const;
  // One reduction over the ranks (none for one process). `elapsed` is read on rank 0 only;
  // a request arriving after this call counts from the next step.
  StepAgreement agree(double loss_sum, double elapsed, bool want_elapsed, double z_loss_sum = 0.0) const;
  // The step just taken is the last one.
  bool last(int64_t step, const StepAgreement& agreement) const;
  int64_t max_steps() const { return max_steps_; }
  double max_time() const { return max_time_; }

 private:
  int64_t max_steps_;
  double max_time_;
  std::function<bool()> requested_;
};

}  // namespace tfm
