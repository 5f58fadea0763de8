#include "tools/train/stop_policy.h"

#include <csignal>

#include "tools/train/distributed.h"

namespace tfm {
namespace {

volatile std::sig_atomic_t g_stop_signal = 0;
volatile std::sig_atomic_t g_reset_on_signal = 1;
volatile std::sig_atomic_t g_installed = 0;

void on_signal(int sig) {
  g_stop_signal = sig;
  if (g_reset_on_signal) std::signal(sig, SIG_DFL);
}

}  // namespace

SignalStop::SignalStop(bool second_signal_kills) {
  g_stop_signal = 0;
  g_reset_on_signal = second_signal_kills ? 1 : 0;
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  g_installed = 1;
}

SignalStop::~SignalStop() {
  std::signal(SIGINT, SIG_DFL);
  std::signal(SIGTERM, SIG_DFL);
  g_installed = 0;
}

bool SignalStop::requested() { return g_installed && g_stop_signal != 0; }

StopPolicy::StopPolicy(int64_t max_steps, double max_time, std::function<bool()> requested)
    : max_steps_(max_steps), max_time_(max_time), requested_(std::move(requested)) {}

bool StopPolicy::finished(int64_t step, double elapsed) const {
  return step >= max_steps_ || (max_time_ > 0 && elapsed >= max_time_);
}

StepAgreement StopPolicy::agree(double loss_sum, double elapsed, bool want_elapsed, double z_loss_sum) const {
  const bool requested = requested_ && requested_();
  double shared[5] = {loss_sum, requested ? 1.0 : 0.0, 0.0, 0.0, z_loss_sum};
  if (dist::is_root()) {
    shared[2] = max_time_ > 0 && elapsed >= max_time_ ? 1.0 : 0.0;
    if (want_elapsed) shared[3] = elapsed;
  }
  dist::allreduce_sum(shared, 5);
  StepAgreement a;
  a.loss_sum = shared[0] / dist::size();
  a.stop_requested = shared[1] > 0;
  a.time_up = shared[2] > 0;
  a.probe_elapsed = shared[3];
  a.z_loss_sum = shared[4] / dist::size();
  return a;
}

bool StopPolicy::last(int64_t step, const StepAgreement& a) const {
  return step >= max_steps_ || a.time_up || a.stop_requested;
}

}  // namespace tfm
