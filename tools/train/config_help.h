#pragma once
// `tfm help config-keys`: every config key with its type, default and meaning,
// generated from the registries (models, layers, tokenizers, optimizers,
// schedules: each entry's help and keys) and the fixed sections (data, train
// and the shared keys of tokenizer and optim). docs/config.md holds the
// Markdown form between marker comments; scripts/gen-config-docs.sh rewrites it
// and a test fails when the two differ.
#include <string>

namespace tfm {

std::string config_keys_help();
// The same text as a fenced block, as docs/config.md carries it between
// kConfigDocsBegin and kConfigDocsEnd.
std::string config_keys_markdown();
inline constexpr const char* kConfigDocsBegin = "<!-- BEGIN GENERATED: tfm help config-keys --markdown -->";
inline constexpr const char* kConfigDocsEnd = "<!-- END GENERATED -->";

}  // namespace tfm
