// The decoder-only LM's modern blocks against the whole-model reference
// (tests/reference/lm_ref.h, written from docs/checkpoint-format.md): RMSNorm,
// rotary, sinusoidal and no position encodings, SwiGLU, grouped-query and
// multi-query attention, no biases, and the norm keys' legacy and new spellings;
// each also distinguishable from its neighbouring variants (harness.h).
#include "reference/harness.h"

namespace tfm {
namespace {
using namespace tfm::reference_harness;

TEST(ReferenceLmBlocks, RmsNormRopeSwiGluGroupedQueryWithoutBiasMatchesReference) {
  check_lm({"rmsnorm rope swiglu, 4 heads of 4 over 2 kv heads, no bias",
            lm_config({{"norm", "rmsnorm"}, {"pos_emb", "rope"}, {"ffn", "swiglu"}, {"d_model", 16}, {"n_head", 4},
                       {"n_kv_head", 2}, {"bias", false}, {"layer_norm_eps", 0.5}}),
            {{"layernorm", {{"norm", "layernorm"}}},
             {"eps 0.05", {{"layer_norm_eps", 0.05}}},
             {"learned positions", {{"pos_emb", "learned"}}},
             {"no positions", {{"pos_emb", "none"}}},
             {"rope_theta 500", {{"rope_theta", 500.0}}},
             {"post-norm", {{"norm_placement", "post"}}},
             {"window 12", {{"attention_window", 12}}}}});
}

TEST(ReferenceLmBlocks, PostNormRmsNormSinusoidalMultiQueryLocalMatchesReference) {
  check_lm({"post-norm rmsnorm (object form) with biases, sinusoidal, 1 kv head, window 4, untied",
            lm_config({{"norm", {{"type", "rmsnorm"}, {"eps", 1e-4}}}, {"norm_placement", "post"},
                       {"pos_emb", "sinusoidal"}, {"d_model", 16}, {"n_head", 4}, {"n_kv_head", 1},
                       {"attention_window", 4}, {"tie_embeddings", false}}),
            {{"pre-norm", {{"norm_placement", "pre"}}},
             {"layernorm", {{"norm", {{"type", "layernorm"}}}}},
             {"no positions", {{"pos_emb", "none"}}},
             {"rope", {{"pos_emb", "rope"}}},
             {"window 5", {{"attention_window", 5}}}}});
}

TEST(ReferenceLmBlocks, LegacyPostNormWithRopeAndNoBiasMatchesReference) {
  check_lm({"legacy norm post, rope theta 500, relu, no bias",
            lm_config({{"norm", "post"}, {"pos_emb", "rope"}, {"rope_theta", 500.0}, {"activation", "relu"},
                       {"bias", false}}),
            {{"pre-norm", {{"norm", "pre"}}},
             {"rope_theta 10000", {{"rope_theta", 10000.0}}},
             {"rmsnorm", {{"norm", "rmsnorm"}, {"norm_placement", "post"}}},
             {"with biases", {{"bias", true}}}}});
  check_lm({"no position encoding, swiglu with biases",
            lm_config({{"pos_emb", "none"}, {"ffn", "swiglu"}}),
            {{"learned positions", {{"pos_emb", "learned"}}}, {"rope", {{"pos_emb", "rope"}}}}});
}

}  // namespace
}  // namespace tfm
