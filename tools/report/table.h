#pragma once
// The table of runs: a column per run; rows for the config keys whose values
// differ between the runs (config_diff.h), then steps, tokens, wall time, the
// best validation loss, perplexity and BLEU with the step of each, tokens/s,
// and which tfm ran it with how many threads and MPI ranks.
#include <string>
#include <vector>

#include "tools/report/run_data.h"

namespace tfm::report {

std::string run_table_html(const std::vector<RunData>& runs);

}  // namespace tfm::report
