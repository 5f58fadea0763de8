#pragma once
// One registry shape for every extension point (layers, models, optimizers,
// schedules, tokenizers): a name maps to an entry that carries its factory, its
// help and its config keys, so configs pick implementations by name, a user's
// own code adds entries without editing tfm, and `tfm help config-keys` and
// docs/config.md are generated from the entries rather than kept by hand.
//
// Each registry is one object behind a function-local static (thread-safe
// initialisation, and no order problem between the static initialisers that
// fill it), defined in the .cpp of the library that owns the base type:
//   OptimizerRegistry& optimizer_registry() { static OptimizerRegistry r("optimizer"); return r; }
// Entries register from static initialisers where they are defined
// (TFM_REGISTRY_ADD); registration happens before main, lookups after, so the
// table needs no lock.
#include <algorithm>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/config.h"
#include "core/error.h"

namespace tfm {

// One config key an entry reads, for help texts and docs.
struct ConfigKey {
  std::string name;
  std::string type;           // int | number | bool | string | object | [n, n] ...
  std::string default_value;  // as the docs show it ("4*d_model", "required")
  std::string help;
};

// What an entry carries beyond its factory, help and keys: nothing, unless the
// base type specialises RegistryExtra (models: the data they train on).
struct NoExtra {};
template <typename Base>
struct RegistryExtra {
  using type = NoExtra;
};

// "a, b, c"
inline std::string join_names(const std::vector<std::string>& names) {
  std::string s;
  for (const auto& n : names) s += (s.empty() ? "" : ", ") + n;
  return s;
}

template <typename Base, typename... Args>
class Registry {
 public:
  using Factory = std::function<std::unique_ptr<Base>(Args...)>;
  using Extra = typename RegistryExtra<Base>::type;
  struct Entry {
    std::string name;
    Factory factory;
    std::string help;             // one line: what it is, with its source
    std::vector<ConfigKey> keys;  // the config keys it reads
    Extra extra{};

    bool has_key(std::string_view key) const {
      return std::any_of(keys.begin(), keys.end(), [&](const ConfigKey& k) { return k.name == key; });
    }
  };

  // kind names an entry in messages: "layer", "model type", "optimizer".
  explicit Registry(std::string kind) : kind_(std::move(kind)) {}
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // Returns true so that it can initialise a static (TFM_REGISTRY_ADD).
  bool add(Entry entry) {
    TFM_CHECK(!entry.name.empty(), kind_, ": a registered name must not be empty");
    TFM_CHECK(entry.factory != nullptr, kind_, " \"", entry.name, "\": registered without a factory");
    TFM_CHECK(!entries_.contains(entry.name), kind_, " \"", entry.name, "\" is registered twice");
    std::string name = entry.name;
    entries_.emplace(std::move(name), std::move(entry));
    return true;
  }

  bool add(std::string name, Factory factory, std::string help = {}, std::vector<ConfigKey> keys = {},
           Extra extra = {}) {
    Entry entry;
    entry.name = std::move(name);
    entry.factory = std::move(factory);
    entry.help = std::move(help);
    entry.keys = std::move(keys);
    entry.extra = std::move(extra);
    return add(std::move(entry));
  }

  bool contains(const std::string& name) const { return entries_.contains(name); }

  // The entry for name; unknown names throw tfm::Error naming the name, every
  // registered one and the nearest. where prefixes the message ("config: optim.name").
  const Entry& get(const std::string& name, std::string_view where = {}) const {
    auto it = entries_.find(name);
    if (it == entries_.end()) fail_unknown(name, where);
    return it->second;
  }

  std::unique_ptr<Base> create(const std::string& name, Args... args) const {
    return get(name).factory(std::forward<Args>(args)...);
  }

  // Sorted.
  std::vector<std::string> names() const {
    std::vector<std::string> out;
    for (const auto& [name, entry] : entries_) out.push_back(name);
    return out;
  }

  // Sorted by name, for help texts and docs.
  std::vector<const Entry*> entries() const {
    std::vector<const Entry*> out;
    for (const auto& [name, entry] : entries_) out.push_back(&entry);
    return out;
  }

  const std::string& kind() const { return kind_; }

 private:
  [[noreturn]] void fail_unknown(const std::string& name, std::string_view where) const {
    const std::string near = nearest(name, names());
    TFM_FAIL(where, where.empty() ? "" : ": ", "unknown ", kind_, " \"", name, "\" (one of: ", join_names(names()), ")",
             near.empty() ? std::string() : " (did you mean \"" + near + "\"?)");
  }

  std::string kind_;
  std::map<std::string, Entry> entries_;
};

}  // namespace tfm

#ifndef TFM_REGISTRY_CONCAT
#define TFM_REGISTRY_CONCAT_(a, b) a##b
#define TFM_REGISTRY_CONCAT(a, b) TFM_REGISTRY_CONCAT_(a, b)
#endif

// TFM_REGISTRY_ADD(optimizer_registry(), "sgd", factory, "help line", {{"momentum", "number", "0", "..."}});
#define TFM_REGISTRY_ADD(registry, ...)                                                        \
  [[maybe_unused]] static const bool TFM_REGISTRY_CONCAT(tfm_registered_, __COUNTER__) = \
      (registry).add(__VA_ARGS__)
