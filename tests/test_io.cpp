// core/io: read_file returns a file's bytes exactly, and when the whole file
// cannot be held in memory it says so instead of returning a truncated prefix.
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>

#include "core/io.h"
#include "test_util.h"

namespace tfm {
namespace {
using testing::error_message;
using testing::TempDir;

TEST(ReadFile, ReturnsEveryByteOfFilesLargerThanOnePiece) {
  TempDir dir;
  const std::string path = dir.path("bytes.bin");
  std::string bytes(3 * (1 << 20) + 17, '\0');
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<char>((i * 2654435761u) >> 13);
  std::ofstream(path, std::ios::binary) << bytes;
  EXPECT_EQ(read_file(path), bytes);
  std::ofstream(dir.path("empty"));
  EXPECT_EQ(read_file(dir.path("empty")), "");
  EXPECT_CONTAINS(error_message([&] { read_file(dir.path("missing")); }), "file not found");
  EXPECT_CONTAINS(error_message([&] { read_file(dir.path()); }), "is a directory");
}

// Peak address space this process may use now: what it maps already plus `extra`.
rlim_t address_space_plus(rlim_t extra) {
  std::ifstream statm("/proc/self/statm");
  rlim_t pages = 0;
  statm >> pages;
  return pages * static_cast<rlim_t>(sysconf(_SC_PAGESIZE)) + extra;
}

// A 512 MiB sparse file read under an address-space limit 64 MiB above what the
// process maps: the read must end in tfm::Error, not in a shorter string.
TEST(ReadFile, AFileThatDoesNotFitInMemoryIsAnErrorNotATruncatedRead) {
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "AddressSanitizer's shadow memory does not fit under an address-space limit";
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
  GTEST_SKIP() << "AddressSanitizer's shadow memory does not fit under an address-space limit";
#endif
#endif
  TempDir dir;
  const std::string path = dir.path("sparse.bin");
  {
    std::ofstream out(path, std::ios::binary);
    out.seekp((512 << 20) - 1);
    out.put('x');
  }
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    const rlimit limit{address_space_plus(64 << 20), address_space_plus(64 << 20)};
    if (setrlimit(RLIMIT_AS, &limit) != 0) _exit(3);
    try {
      const std::string bytes = read_file(path);
      _exit(bytes.size() == (512u << 20) ? 4 : 1);  // 1: truncated without an error
    } catch (const Error& e) {
      _exit(std::string(e.what()).find("out of memory") != std::string::npos ? 0 : 2);
    } catch (...) {
      _exit(5);
    }
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "1: truncated read, 2: another error, 3: setrlimit failed, 4: read it all";
}

}  // namespace
}  // namespace tfm
