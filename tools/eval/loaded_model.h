#pragma once
// A checkpoint loaded as the kind of model a command needs (a language model,
// an encoder-decoder), with its tokenizer, in evaluation mode.
#include <memory>
#include <string>

#include "core/error.h"
#include "models/checkpoint.h"
#include "tools/text/tokenizer.h"

namespace tfm {

template <class M>
struct LoadedAs {
  std::unique_ptr<Model> holder;
  M* model = nullptr;  // holder's model, as an M
  std::unique_ptr<Tokenizer> tokenizer;
};

// Throws tfm::Error naming the file when its model is not an M (`expected` says what was
// wanted) or it has no tokenizer.
template <class M>
LoadedAs<M> load_checkpoint_as(const std::string& path, const std::string& expected) {
  LoadedModel loaded = load_checkpoint(path);
  LoadedAs<M> out;
  out.model = dynamic_cast<M*>(loaded.model.get());
  TFM_CHECK(out.model != nullptr, path, ": model type \"", loaded.model->type(), "\" is not ", expected);
  TFM_CHECK(!loaded.tokenizer.is_null(), path, ": checkpoint has no tokenizer in its metadata");
  out.tokenizer = Tokenizer::from_json(loaded.tokenizer);
  out.holder = std::move(loaded.model);
  out.model->eval();
  return out;
}

}  // namespace tfm
