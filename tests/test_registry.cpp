// core/registry.h: the one registry shape behind layers, models, optimizers,
// schedules and tokenizers. Adding, creating by name, sorted names and
// entries, refusing a second entry of a name, and the message for an unknown
// name (the name, the nearest registered one, the list).
#include <memory>
#include <string>
#include <vector>

#include "core/registry.h"
#include "layers/registry.h"
#include "models/model.h"
#include "test_util.h"

namespace tfm {
namespace {
using namespace tfm::testing;

struct Shape2 {
  virtual ~Shape2() = default;
  virtual double area() const = 0;
};
struct Square : Shape2 {
  explicit Square(double side) : side(side) {}
  double area() const override { return side * side; }
  double side;
};
struct Circle : Shape2 {
  explicit Circle(double r) : r(r) {}
  double area() const override { return 3.0 * r * r; }
  double r;
};
using ShapeRegistry = Registry<Shape2, double>;

template <typename S>
std::unique_ptr<Shape2> make(double x) {
  return std::make_unique<S>(x);
}

ShapeRegistry& filled() {
  static ShapeRegistry r("shape");
  static const bool once = r.add("square", make<Square>, "four equal sides", {{"side", "number", "1", "length"}}) &&
                           r.add("circle", make<Circle>, "round", {});
  (void)once;
  return r;
}

TEST(Registry, CreatesByNameWithTheFactoryArguments) {
  const ShapeRegistry& r = filled();
  EXPECT_DOUBLE_EQ(r.create("square", 3.0)->area(), 9.0);
  EXPECT_DOUBLE_EQ(r.create("circle", 2.0)->area(), 12.0);
  EXPECT_TRUE(r.contains("square"));
  EXPECT_FALSE(r.contains("triangle"));
}

TEST(Registry, NamesAndEntriesAreSortedAndCarryHelpAndKeys) {
  const ShapeRegistry& r = filled();
  EXPECT_EQ(r.names(), (std::vector<std::string>{"circle", "square"}));
  const auto entries = r.entries();
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0]->name, "circle");
  EXPECT_EQ(entries[1]->help, "four equal sides");
  ASSERT_EQ(entries[1]->keys.size(), 1u);
  EXPECT_EQ(entries[1]->keys[0].name, "side");
  EXPECT_EQ(entries[1]->keys[0].default_value, "1");
  EXPECT_TRUE(entries[1]->has_key("side"));
  EXPECT_FALSE(entries[0]->has_key("side"));
}

TEST(Registry, ASecondEntryOfANameIsAnError) {
  ShapeRegistry r("shape");
  EXPECT_TRUE(r.add("square", make<Square>));
  EXPECT_CONTAINS(error_message([&] { r.add("square", make<Circle>); }), "shape \"square\" is registered twice");
  EXPECT_DOUBLE_EQ(r.create("square", 2.0)->area(), 4.0);  // the first entry stays
  EXPECT_CONTAINS(error_message([&] { r.add("", make<Circle>); }), "must not be empty");
  EXPECT_CONTAINS(error_message([&] { r.add("blob", nullptr); }), "without a factory");
}

TEST(Registry, UnknownNameNamesItTheNearestAndTheList) {
  const ShapeRegistry& r = filled();
  EXPECT_EQ(error_message([&] { r.create("sqare", 1.0); }),
            "unknown shape \"sqare\" (one of: circle, square) (did you mean \"square\"?)");
  EXPECT_EQ(error_message([&] { r.get("circel", "config: figure.kind"); }),
            "config: figure.kind: unknown shape \"circel\" (one of: circle, square) (did you mean \"circle\"?)");
  const std::string far = error_message([&] { r.get("hexagon"); });
  EXPECT_CONTAINS(far, "unknown shape \"hexagon\" (one of: circle, square)");
  EXPECT_EQ(far.find("did you mean"), std::string::npos) << far;
}

TEST(Registry, LayersAndModelsUseTheOneRegistry) {
  static_assert(std::is_same_v<LayerTable, Registry<SequenceLayer, const LayerContext&, const nlohmann::json&>>);
  static_assert(std::is_same_v<ModelTable, Registry<Model, const nlohmann::json&>>);
  EXPECT_EQ(LayerRegistry::names(), LayerRegistry::table().names());
  EXPECT_TRUE(LayerRegistry::contains("feed_forward"));
  EXPECT_EQ(ModelRegistry::types(), ModelRegistry::table().names());
  EXPECT_EQ(ModelRegistry::table().get("transformer").extra.data, DataKind::Parallel);
  EXPECT_CONTAINS(error_message([] { LayerRegistry::add("feed_forward", nullptr); }), "without a factory");
  EXPECT_CONTAINS(error_message([] {
                    LayerRegistry::add("feed_forward", [](const LayerContext&, const nlohmann::json&) {
                      return std::unique_ptr<SequenceLayer>();
                    });
                  }),
                  "layer \"feed_forward\" is registered twice");
  EXPECT_CONTAINS(error_message([] {
                    ModelRegistry::add("lm", [](const nlohmann::json&) { return std::unique_ptr<Model>(); });
                  }),
                  "model type \"lm\" is registered twice");
}

}  // namespace
}  // namespace tfm
