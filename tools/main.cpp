// tfm: train Transformer language models on CPU, evaluate, generate, inspect.
// Each subcommand lives in tools/commands/ and registers itself; this file parses
// the command line, runs the chosen one and maps errors to exit codes.
#include <CLI/CLI.hpp>
#include <dnnl.hpp>

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>

#include "core/error.h"
#include "core/parallel.h"
#include "tools/support/build_info.h"
#include "tools/commands/command.h"
#include "tools/train/distributed.h"

namespace {

// Iterations a waiting OpenMP thread spins before it sleeps (see main).
#define TFM_DEFAULT_SPINCOUNT "1000"

std::string version_string() {
  const dnnl_version_t* v = dnnl_version();
  char buf[256];
  std::snprintf(buf, sizeof buf, "tfm %s (oneDNN %d.%d.%d, OpenMP, %d cores, MPI: %s)", tfm::build_version(), v->major,
                v->minor, v->patch, tfm::available_cores(), tfm::dist::compiled_with_mpi() ? "yes" : "no");
  return buf;
}

int run(int argc, char** argv) {
  CLI::App app{"tfm: train Transformer language models on CPU from JSON configs.\n"
               "Run `tfm COMMAND --help` for each command's options."};
  app.set_version_flag("--version", version_string());
  app.require_subcommand(1);
  std::map<std::string, tfm::cli::CommandRun> runs;
  for (const tfm::cli::Command& c : tfm::cli::registered_commands()) runs[c.name] = c.setup(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version end parsing with exit code 0; a usage error is bad input (exit 2).
    if (e.get_exit_code() == 0) return app.exit(e);
    std::fprintf(stderr, "error: %s\nRun with --help for more information.\n", e.what());
    return 2;
  }
  for (auto& [name, run_command] : runs)
    if (app.got_subcommand(name)) return run_command();
  return 0;
}

}  // namespace

// GNU OpenMP spins up to 300,000 iterations in every barrier before it sleeps.
// When another process is busy on one of the cores that spinning starves the
// thread it waits for, and a step becomes 10-40x slower (measured: gpt-tiny
// 38 ms/step with GOMP_SPINCOUNT=0 against 1538 ms with the default, beside a
// busy 2-thread process). libgomp reads its settings when it is loaded, so the
// tool sets a short spin and re-executes itself, unless the user chose a policy.
static void configure_openmp_wait_policy(char** argv) {
  if (std::getenv("OMP_WAIT_POLICY") || std::getenv("GOMP_SPINCOUNT") || std::getenv("TFM_OMP_CONFIGURED")) return;
  setenv("GOMP_SPINCOUNT", TFM_DEFAULT_SPINCOUNT, 1);
  setenv("TFM_OMP_CONFIGURED", "1", 1);
  // The binary's real path, not /proc/self/exe, so that ps and top still call the process "tfm".
  char self[4096];
  const ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) return;
  self[n] = '\0';
  execv(self, argv);  // returns only on failure: then run with the defaults
}

// Reports a failure and ends the process: under mpirun with several ranks, the
// whole job (MPI_Abort), so that no rank waits forever in a collective. When
// every rank fails alike (a bad config), rank 0 reports and aborts at once;
// another rank reports only if the job is still alive a moment later, that is,
// if it alone saw the problem.
static int fail(int code, const char* lead, const char* what) {
  std::fflush(stdout);
  if (tfm::dist::size() > 1) {
    if (!tfm::dist::is_root()) usleep(500 * 1000);
    std::fprintf(stderr, "%serror: rank %d: %s\n", lead, tfm::dist::rank(), what);
    std::fflush(stderr);
    tfm::dist::abort_job(code);
  }
  std::fprintf(stderr, "%serror: %s\n", lead, what);
  return code;
}

int main(int argc, char** argv) {
  configure_openmp_wait_policy(argv);
  tfm::dist::init(&argc, &argv);
  try {
    const int rc = run(argc, argv);
    tfm::dist::finalize();
    return rc;
  } catch (const tfm::RuntimeFailure& e) {
    return fail(1, "\n", e.what());
  } catch (const tfm::Error& e) {
    return fail(2, "", e.what());
  } catch (const std::bad_alloc&) {
    return fail(1, "", "out of memory");
  } catch (const std::exception& e) {
    return fail(1, "", e.what());
  }
}
