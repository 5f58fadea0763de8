#pragma once
// Which config keys differ between runs: each run's config.json flattened to
// dotted paths ("optim.lr", "model.attention.type"; array elements by index,
// "data.train.0"), then the paths whose values are not the same in every run.
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace tfm::report {

// Leaf path -> the value as compact JSON ("0.001", "\"cosine\"", "[]", "{}").
std::map<std::string, std::string> flatten_config(const nlohmann::json& config);

// The paths, sorted, whose value differs between the configs or is missing from some.
std::vector<std::string> differing_keys(const std::vector<std::map<std::string, std::string>>& configs);

// A flattened value for a table cell: strings without their JSON quotes.
std::string display_value(const std::string& json_value);

}  // namespace tfm::report
