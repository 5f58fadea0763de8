#include "tools/support/build_info.h"

#include "tfm_commit.h"  // generated into the build tree: #define TFM_COMMIT "..."

namespace tfm {

const char* build_version() { return TFM_VERSION; }
const char* build_commit() { return TFM_COMMIT; }

}  // namespace tfm
