#pragma once
// Which tfm this is: the project version and the git commit it was built from
// (12 hex digits, "-dirty" when tracked files had changes; "unknown" outside a
// git checkout). The commit is looked up at every build (cmake/commit_header.cmake).
namespace tfm {

const char* build_version();
const char* build_commit();

}  // namespace tfm
