// Data-parallel failures that must end the job instead of hanging, and the
// runs that resume after them: a bad input on one rank, ranks whose prepared
// tokens differ, SIGTERM to mpirun, a rank killed mid-training, rank 0 dying
// part-way through a checkpoint; and the thread count the ranks share. The
// harness is mpi_test_harness.h; the tests skip without MPI or mpirun.
#include "mpi_test_harness.h"

namespace tfm {
namespace {

using namespace tfm::testing;
using namespace tfm::mpi_test;

TEST_F(Mpi, ABadInputOnOneRankEndsTheWholeJob) {
  // Rank 1 alone is given a config whose data file is missing (MPMD launch);
  // rank 0 would otherwise wait for it in the first collective forever.
  nlohmann::json bad = config_;
  bad["data"]["train"] = {"missing.txt"};
  dir_.file("bad.json", bad.dump(2));
  const std::string tfm = std::string("'") + TFM_EXE + "'";
  const ProcessResult r = run_shell(std::string(kMpirun) + " -np 1 " + tfm + " train cfg.json --quiet --out job : -np 1 " +
                                        tfm + " train bad.json --quiet --out job",
                                    dir_.path());
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.code, 124) << "the job hung until the timeout";
  EXPECT_CONTAINS(r.err, "error: rank 1: data file not found: missing.txt");
}

TEST_F(Mpi, RanksWithOtherTokensEndTheJobNamingTheirCacheFile) {
  // Rank 1 alone reads another corpus into a cache directory of its own (MPMD launch), as a rank
  // on another host with other data would: the ranks' check after preparing ends the job.
  const std::string corpus = word_corpus(30000);
  dir_.file("other.txt", corpus + corpus.substr(0, corpus.find('\n') + 1));  // the same characters, more of them
  nlohmann::json other = config_;
  other["data"]["train"] = {"other.txt"};
  other["data"]["cache_dir"] = "other-cache";
  dir_.file("other.json", other.dump(2));
  const std::string tfm = std::string("'") + TFM_EXE + "'";
  const ProcessResult r = run_shell(std::string(kMpirun) + " -np 1 " + tfm + " train cfg.json --quiet --out job : -np 1 " +
                                        tfm + " train other.json --quiet --out job",
                                    dir_.path());
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.code, 124) << "the job hung until the timeout";
  EXPECT_CONTAINS(r.err, "data: the MPI ranks disagree on the tokens (rank ");
  EXPECT_CONTAINS(r.err, "training tokens in ");
}

// mpirun (Open MPI 4.1), sent SIGTERM, waits odls_base_sigkill_timeout seconds, sends SIGTERM to the
// ranks, waits as long again and sends SIGKILL: the ranks have that long for their last step, its
// evaluation and the checkpoint pair with its fsyncs, which took 2 s on a loaded 2-core machine (the
// test had 3 s and failed under ctest -j2). 15 s, and the job still ends in about 20 s. The signal goes
// out once step 1 is logged, when every rank has its handler installed (step 1's reduction needs them all).
TEST_F(Mpi, SigtermToMpirunCheckpointsOnceAndTheRunResumes) {
  const std::string tfm = std::string("'") + TFM_EXE + "'";
  const pid_t mpirun = spawn_shell(
      "env OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 mpirun --oversubscribe "
      "--mca odls_base_sigkill_timeout 15 -np 2 " + tfm +
          " train cfg.json --quiet --out run --set train.max_steps=1000000 --set train.checkpoint_every=1000000",
      dir_.path(), path("mpirun.log"));
  ASSERT_GT(mpirun, 0);
  const bool started = wait_until([&] { return file_size_or_zero(path("run/metrics.jsonl")) > 0; }, 120);
  ::kill(mpirun, SIGTERM);
  const int status = wait_for(mpirun, 120);
  SCOPED_TRACE("mpirun output: " + slurp(path("mpirun.log")));
  ASSERT_TRUE(started) << "no step was logged within 120 s";
  ASSERT_NE(status, -1) << "mpirun did not end within 120 s of SIGTERM";
  EXPECT_CONTAINS(slurp(path("run/train.log")), "interrupted:");
  const int64_t step = state_step(path("run/checkpoints/last.state.safetensors"));
  EXPECT_GT(step, 0);
  // The checkpoint continues: one process, a few more steps.
  train_ok(1, "--resume run --set train.max_steps=" + std::to_string(step + 3));
  EXPECT_CONTAINS(slurp(path("run/train.log")), "resuming at step " + std::to_string(step));
}

// The overrides of the failure tests: a checkpoint pair every 2 steps.
const char* kEvery2 = "--set train.checkpoint_every=2 --set optim.schedule=constant ";

// A rank killed at a random moment after the run has checkpointed twice: mpirun sees it die and ends the
// job; the last pair on disk loads and resumes (with 2 ranks again) to the same bytes as a straight run.
TEST_F(Mpi, ARankKilledMidTrainingEndsTheJobWithin60SecondsAndTheLastCheckpointResumes) {
  const std::string tfm = std::string("'") + TFM_EXE + "'";
  const pid_t mpirun = spawn_shell("env OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 mpirun "
                                   "--oversubscribe -np 2 " + tfm + " train cfg.json --quiet --out run " + kEvery2 +
                                       "--set train.max_steps=1000000",
                                   dir_.path(), path("mpirun.log"));
  ASSERT_GT(mpirun, 0);
  const std::string state_path = path("run/checkpoints/last.state.safetensors");
  const bool checkpointed = wait_until([&] { return state_step(state_path) >= 4; }, 120);
  std::map<int, pid_t> ranks = children_by_rank(mpirun);
  std::mt19937 rng(std::random_device{}());
  std::this_thread::sleep_for(std::chrono::microseconds(rng() % 50000));  // a random moment, not a wait
  if (ranks.count(1)) ::kill(ranks[1], SIGKILL);
  const auto killed = std::chrono::steady_clock::now();
  const int status = wait_for(mpirun, 60);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - killed).count();
  SCOPED_TRACE("mpirun output: " + slurp(path("mpirun.log")));
  ASSERT_TRUE(checkpointed) << "no second checkpoint within 120 s";
  ASSERT_EQ(ranks.count(1), 1u) << "rank 1 not found among mpirun's children";
  ASSERT_NE(status, -1) << "the job was still running 60 s after rank 1 was killed";
  EXPECT_LT(seconds, 60.0);
  EXPECT_FALSE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "mpirun exited 0 after a rank was killed";

  EXPECT_NO_THROW(load_checkpoint(path("run/checkpoints/last.safetensors")));
  const int64_t step = state_step(state_path);
  EXPECT_GE(step, 4);
  EXPECT_EQ(step % 2, 0);
  const std::string end = "--set train.max_steps=" + std::to_string(step + 2);
  train_ok(2, "--resume run " + std::string(kEvery2) + end);
  EXPECT_EQ(temp_files(path("run/checkpoints")), 0);
  train_ok(2, "--out straight " + std::string(kEvery2) + end);
  EXPECT_EQ(tensor_difference(path("run/checkpoints/last.safetensors"),
                              path("straight/checkpoints/last.safetensors")),
            "");
  EXPECT_EQ(tensor_difference(state_path, path("straight/checkpoints/last.state.safetensors")), "");
}

// Rank 0 alone writes checkpoints; the test hook (core/io.h) kills it with SIGKILL half-way through
// writing the state of step 4, after last.safetensors of step 4 is in place.
TEST_F(Mpi, Rank0DyingPartWayThroughACheckpointEndsTheJobAndTheRunResumesExactly) {
  const std::string tfm = std::string("'") + TFM_EXE + "'";
  const auto start = std::chrono::steady_clock::now();
  const ProcessResult r = run_shell(std::string(kMpirun) + " -x TFM_FAULT_INJECT=die:last.state:2 -np 2 " + tfm +
                                        " train cfg.json --quiet --out run " + kEvery2 + "--set train.max_steps=8",
                                    dir_.path());
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  SCOPED_TRACE("mpirun stderr: " + r.err);
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.code, 124) << "the job hung until the timeout";
  EXPECT_LT(seconds, 60.0);
  EXPECT_EQ(temp_files(path("run/checkpoints")), 1);  // the state's temporary file, half written
  EXPECT_EQ(state_step(path("run/checkpoints/last.state.safetensors")), 2);
  train_ok(2, "--out straight --set train.keep_checkpoints=100 " + std::string(kEvery2) + "--set train.max_steps=8");
  EXPECT_EQ(tensor_difference(path("run/checkpoints/last.safetensors"),
                              path("straight/checkpoints/step-00000004.safetensors")),
            "");
  train_ok(2, "--resume run " + std::string(kEvery2) + "--set train.max_steps=8");
  EXPECT_EQ(temp_files(path("run/checkpoints")), 0);
  EXPECT_CONTAINS(slurp(path("run/train.log")), "resuming at step 2");
  EXPECT_EQ(tensor_difference(path("run/checkpoints/last.safetensors"),
                              path("straight/checkpoints/last.safetensors")),
            "");
  EXPECT_EQ(tensor_difference(path("run/checkpoints/last.state.safetensors"),
                              path("straight/checkpoints/last.state.safetensors")),
            "");
}

TEST_F(Mpi, ThreadsDefaultToTheCoresSharedBetweenTheRanks) {
  config_["train"]["threads"] = 0;
  dir_.file("cfg.json", config_.dump(2));
  train_ok(2, "--out threads --set train.max_steps=2");
  const int per_rank = std::max(1, available_cores() / 2);
  EXPECT_CONTAINS(slurp(path("threads/train.log")), std::to_string(per_rank) + " threads x 2 MPI ranks");
}

}  // namespace
}  // namespace tfm
