// Tree: ordering, paths, flatten/unflatten, from_flat, map and the error
// messages for missing keys and mismatched structures.
#include "test_utils.h"

using namespace mfx;
using mfx::test::check_throws_with;

namespace {

// {a: *, b: [*, {c: *}], d: {}, e: []} with leaves 1, 2, 3.
Tree sample() {
  return Tree{{"b", Tree(Tree::List{array(2.0f), Tree{{"c", array(3.0f)}}})},
              {"a", array(1.0f)},
              {"e", Tree(Tree::List{})},
              {"d", Tree()}};
}

std::vector<double> leaf_values(const Tree& t) {
  std::vector<double> out;
  for (auto a : t.leaves()) out.push_back(a.item<double>());
  return out;
}

}  // namespace

TEST_CASE("tree: kinds, accessors and size") {
  Tree t = sample();
  CHECK(t.is_dict());
  CHECK(t.size() == 4);
  CHECK(t["a"].is_leaf());
  CHECK(t["a"].size() == 1);
  CHECK(t["b"].is_list());
  CHECK(t["b"].size() == 2);
  CHECK(array(t["b"][1]["c"].leaf()).item<float>() == 3.0f);
  CHECK(t["d"].is_dict());
  CHECK(t["d"].size() == 0);
  CHECK(t["e"].is_list());
  CHECK(t["e"].size() == 0);
  CHECK(Tree().is_dict());

  // Non-const operator[] inserts an empty dict, which can then be filled.
  Tree u;
  u["x"]["y"] = array(5.0f);
  CHECK(u.structure_str() == "{x: {y: *}}");
  // Replacing a leaf through the mutable accessors.
  t["b"][0].leaf() = array(7.0f);
  CHECK(array(t.at("b.0")).item<float>() == 7.0f);
  t.dict().erase("d");
  t["e"].list().push_back(Tree(array(4.0f)));
  CHECK(t.structure_str() == "{a: *, b: [*, {c: *}], e: [*]}");
}

TEST_CASE("tree: accessor errors name the kind, key or position") {
  Tree t = sample();
  const Tree& c = t;
  check_throws_with([&] { (void)c["zz"]; }, {"operator[]", "'zz'", "not found", "a, b, d, e"});
  check_throws_with([&] { (void)c["a"]["x"]; }, {"'x'", "a leaf"});
  check_throws_with([&] { (void)c["b"][2]; }, {"position 2", "length 2"});
  check_throws_with([&] { (void)c[size_t{0}]; }, {"position 0", "a dict"});
  check_throws_with([&] { (void)t["b"]["k"]; }, {"'k'", "a list"});
  check_throws_with([&] { (void)c["a"].dict(); }, {"Tree::dict", "a leaf"});
  check_throws_with([&] { (void)c["b"].leaf(); }, {"Tree::leaf", "a list", "[*, {c: *}]"});
  check_throws_with([&] { (void)c.list(); }, {"Tree::list", "a dict"});
}

TEST_CASE("tree: deterministic order and dotted paths") {
  Tree t = sample();
  CHECK(t.paths() == std::vector<std::string>{"a", "b.0", "b.1.c"});
  CHECK(leaf_values(t) == std::vector<double>{1, 2, 3});
  auto flat = t.flatten();
  REQUIRE(flat.size() == 3);
  CHECK(flat[2].first == "b.1.c");
  CHECK(flat[2].second.id() == t["b"][1]["c"].leaf().id());

  // Keys sort byte-wise ("layer10" < "layer2", upper case first); list
  // positions keep their order.
  Tree u{{"layer2", array(2.0f)}, {"layer10", array(10.0f)}, {"Z", array(0.0f)}};
  CHECK(u.paths() == std::vector<std::string>{"Z", "layer10", "layer2"});
  Tree::List many;
  for (int i = 0; i < 12; ++i) many.push_back(Tree(array(static_cast<float>(i))));
  Tree l(many);
  CHECK(l.paths()[10] == "10");
  CHECK(leaf_values(l)[11] == 11);

  // A bare leaf has the empty path.
  Tree leaf(array(1.5f));
  CHECK(leaf.paths() == std::vector<std::string>{""});
  CHECK(array(leaf.at("")).item<float>() == 1.5f);
  CHECK(Tree().leaves().empty());
}

TEST_CASE("tree: at and contains") {
  Tree t = sample();
  CHECK(array(t.at("b.1.c")).item<float>() == 3.0f);
  CHECK(t.contains("a"));
  CHECK(t.contains("b.0"));
  CHECK_FALSE(t.contains("b"));
  CHECK_FALSE(t.contains("b.2"));
  CHECK_FALSE(t.contains("b.01"));
  CHECK_FALSE(t.contains("a.x"));
  CHECK_FALSE(t.contains("zz"));
  CHECK_FALSE(t.contains(""));

  check_throws_with([&] { t.at("b.1.x"); },
                    {"[Tree::at]", "'b.1.x'", "key 'x'", "'b.1'", "keys: c"});
  check_throws_with([&] { t.at("b.5.c"); }, {"'b.5.c'", "'5'", "length 2"});
  check_throws_with([&] { t.at("b.1"); }, {"'b.1' is a dict, not a leaf"});
  check_throws_with([&] { t.at("a.w"); }, {"'a' is a leaf", "'w'"});
  check_throws_with([&] { t.at("nope.w"); }, {"key 'nope'", "the root"});

  // Keys that themselves contain dots are still found.
  Tree d{{"a.b", array(1.0f)}, {"a", Tree{{"c", array(2.0f)}}}};
  CHECK(array(d.at("a.b")).item<float>() == 1.0f);
  CHECK(array(d.at("a.c")).item<float>() == 2.0f);
}

TEST_CASE("tree: unflatten") {
  Tree t = sample();
  std::vector<array> repl{array(10.0f), array(20.0f), array(30.0f)};
  Tree u = t.unflatten(repl);
  CHECK(u.same_structure(t));
  CHECK(leaf_values(u) == std::vector<double>{10, 20, 30});
  CHECK(u["b"][0].leaf().id() == repl[1].id());
  // The original is untouched.
  CHECK(leaf_values(t) == std::vector<double>{1, 2, 3});

  check_throws_with(
      [&] { t.unflatten({array(1.0f)}); },
      {"[Tree::unflatten]", "{a: *, b: [*, {c: *}], d: {}, e: []}", "3 leaves", "1 arrays"});
  CHECK(Tree().unflatten({}).is_dict());
}

TEST_CASE("tree: from_flat builds dicts and lists") {
  // PyTorch state-dict names: numbered children become lists.
  std::vector<std::pair<std::string, array>> items{
      {"backbone.0.body.layer1.1.conv1.weight", array(3.0f)},
      {"backbone.0.body.layer1.0.conv1.weight", array(1.0f)},
      {"backbone.0.body.layer1.0.bn1.weight", array(2.0f)},
      {"class_embed.weight", array(4.0f)},
      {"query_embed", array(5.0f)}};
  Tree t = Tree::from_flat(items);
  CHECK(t.structure_str() ==
        "{backbone: [{body: {layer1: [{bn1: {weight: *}, conv1: {weight: *}}, "
        "{conv1: {weight: *}}]}}], class_embed: {weight: *}, query_embed: *}");
  CHECK(array(t.at("backbone.0.body.layer1.1.conv1.weight")).item<float>() == 3.0f);
  CHECK(t["backbone"].is_list());
  CHECK(t["backbone"][0]["body"]["layer1"].size() == 2);

  // Only exactly 0..n-1 makes a list; positions order numerically.
  std::vector<std::pair<std::string, array>> sparse{{"l.0", array(0.0f)}, {"l.2", array(2.0f)}};
  CHECK(Tree::from_flat(sparse).structure_str() == "{l: {0: *, 2: *}}");
  std::vector<std::pair<std::string, array>> padded{{"l.00", array(0.0f)}, {"l.1", array(1.0f)}};
  CHECK(Tree::from_flat(padded)["l"].is_dict());
  std::vector<std::pair<std::string, array>> eleven;
  for (int i = 10; i >= 0; --i) eleven.push_back({"x." + std::to_string(i), array(float(i))});
  Tree e = Tree::from_flat(eleven);
  REQUIRE(e["x"].is_list());
  CHECK(leaf_values(e) == std::vector<double>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10});
  // The root itself can become a list.
  CHECK(Tree::from_flat({{"1", array(1.0f)}, {"0", array(0.0f)}}).structure_str() == "[*, *]");

  CHECK(Tree::from_flat({}).structure_str() == "{}");
  CHECK(Tree::from_flat({{"", array(1.0f)}}).is_leaf());

  // from_flat inverts flatten for trees without empty containers.
  Tree s{{"a", array(1.0f)}, {"b", Tree(Tree::List{array(2.0f), Tree{{"c", array(3.0f)}}})}};
  Tree back = Tree::from_flat(s.flatten());
  CHECK(back.same_structure(s));
  CHECK(leaf_values(back) == leaf_values(s));
}

TEST_CASE("tree: from_flat errors") {
  using Items = std::vector<std::pair<std::string, array>>;
  check_throws_with(
      [] {
        Tree::from_flat(Items{{"a.b", array(1.0f)}, {"a.b", array(2.0f)}});
      },
      {"[Tree::from_flat]", "duplicate path 'a.b'"});
  check_throws_with(
      [] {
        Tree::from_flat(Items{{"a", array(1.0f)}, {"a.b", array(2.0f)}});
      },
      {"'a.b'", "'a'", "itself a leaf"});
  check_throws_with(
      [] {
        Tree::from_flat(Items{{"a.b", array(1.0f)}, {"a", array(2.0f)}});
      },
      {"'a'", "prefix"});
  check_throws_with(
      [] {
        Tree::from_flat(Items{{"a..b", array(1.0f)}});
      },
      {"'a..b'", "empty component"});
  check_throws_with(
      [] {
        Tree::from_flat(Items{{"", array(1.0f)}, {"a", array(2.0f)}});
      },
      {"empty path"});
}

TEST_CASE("tree: map, map over two trees, map_with_path") {
  Tree t = sample();
  Tree doubled = t.map([](const array& a) { return a * 2.0f; });
  CHECK(doubled.same_structure(t));
  CHECK(leaf_values(doubled) == std::vector<double>{2, 4, 6});

  Tree sum = Tree::map([](const array& a, const array& b) { return a + b; }, t, doubled);
  CHECK(leaf_values(sum) == std::vector<double>{3, 6, 9});
  CHECK(sum.structure_str() == t.structure_str());

  std::vector<std::string> seen;
  Tree tagged = t.map_with_path([&](const std::string& p, const array& a) {
    seen.push_back(p);
    return p == "b.0" ? a * 0.0f : a;
  });
  CHECK(seen == std::vector<std::string>{"a", "b.0", "b.1.c"});
  CHECK(leaf_values(tagged) == std::vector<double>{1, 0, 3});

  Tree other{{"a", array(1.0f)},
             {"b", Tree(Tree::List{array(2.0f)})},
             {"d", Tree()},
             {"e", Tree(Tree::List{})}};
  check_throws_with(
      [&] { Tree::map([](const array& a, const array&) { return a; }, t, other); },
      {"[Tree::map]", "{a: *, b: [*, {c: *}], d: {}, e: []}", "{a: *, b: [*], d: {}, e: []}",
       "at 'b': a list of length 2 vs a list of length 1"});
}

TEST_CASE("tree: same_structure and structure_str") {
  Tree t = sample();
  CHECK(t.structure_str() == "{a: *, b: [*, {c: *}], d: {}, e: []}");
  CHECK(t.same_structure(sample()));
  CHECK(t.same_structure(t.map([](const array& a) { return a + 1.0f; })));
  // Leaves differ in value and shape only: same structure.
  Tree shapes = t.map([](const array& a) { return zeros({2, 3}); });
  CHECK(t.same_structure(shapes));

  Tree missing = sample();
  missing.dict().erase("d");
  CHECK_FALSE(t.same_structure(missing));
  Tree renamed = sample();
  renamed.dict().erase("a");
  renamed["A"] = array(1.0f);
  CHECK_FALSE(t.same_structure(renamed));
  Tree kind = sample();
  kind["a"] = Tree();
  CHECK_FALSE(t.same_structure(kind));
  // Empty list vs empty dict.
  Tree empty_kind = sample();
  empty_kind["e"] = Tree();
  CHECK_FALSE(t.same_structure(empty_kind));
  CHECK_FALSE(Tree(array(1.0f)).same_structure(Tree()));
  CHECK(Tree(array(1.0f)).structure_str() == "*");
}

TEST_CASE("tree: eval evaluates every leaf") {
  array x = array({1.0f, 2.0f}) + 1.0f;  // shared by both leaves
  Tree t{{"p", x * 2.0f}, {"q", Tree(Tree::List{x * 3.0f})}};
  for (auto& a : t.leaves()) CHECK_FALSE(a.is_evaluated());
  eval(t);
  for (auto& a : t.leaves()) CHECK(a.is_evaluated());
  mfx::test::check_close(t["q"][0].leaf(), {6, 9}, {2});
  eval(Tree());  // nothing to do
}
