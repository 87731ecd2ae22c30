// safetensors save/load and Tree save/load: bit-exact round trips, the exact
// bytes of the format, files written by other writers, corrupt input and
// atomic replacement.
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>

#include "test_utils.h"

using namespace mfx;
using mfx::test::check_throws_with;

namespace {

// A fresh directory, removed with everything in it at the end of the test.
struct TempDir {
  std::string path;
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "mfx_test_io_XXXXXX").string();
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    path = tmpl;
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  std::string file(const std::string& name) const { return path + "/" + name; }
  std::vector<std::string> entries() const {
    std::vector<std::string> out;
    for (auto& e : std::filesystem::directory_iterator(path)) out.push_back(e.path().filename());
    std::sort(out.begin(), out.end());
    return out;
  }
};

std::string read_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::string le64(uint64_t n) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  return out;
}

// A safetensors file built by hand from the spec: u64 LE header length,
// the header padded with spaces to a multiple of 8, the data.
std::string spec_file(std::string header, const std::string& data) {
  header.append((8 - header.size() % 8) % 8, ' ');
  return le64(header.size()) + header + data;
}

template <typename T>
std::string raw(const std::vector<T>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
}

// The bytes of an evaluated row-major array.
std::string bytes_of(array a) {
  a.eval();
  REQUIRE(a.flags().row_contiguous);
  return std::string(static_cast<const char*>(a.raw_data()), a.nbytes());
}

template <typename T>
array from_bits(const std::vector<uint16_t>& bits, Shape shape) {
  std::vector<T> v;
  for (auto b : bits) v.push_back(T::from_bits(b));
  return array(v, std::move(shape));
}

std::map<std::string, array> every_dtype() {
  const float inf = std::numeric_limits<float>::infinity();
  float nan_payload;
  uint32_t nan_bits = 0x7fc12345u;  // a NaN with a payload: copied, never converted
  std::memcpy(&nan_payload, &nan_bits, 4);
  double dnan;
  uint64_t dnan_bits = 0xfff8000000000abcull;
  std::memcpy(&dnan, &dnan_bits, 8);
  static const uint8_t bool_bytes[] = {1, 0, 1, 1};
  return {
      {"bool", array(bool_bytes, {2, 2}, bool_)},
      {"u8", array(std::vector<uint8_t>{0, 1, 127, 128, 255}, {5})},
      {"i32", array(std::vector<int32_t>{INT32_MIN, -1, 0, 1, INT32_MAX, 42}, {2, 3})},
      {"i64", array(std::vector<int64_t>{INT64_MIN, -1, 0, INT64_MAX}, {4, 1})},
      // +0, -0, 1, max, inf, -inf, NaN, NaN with payload, smallest subnormal
      {"f16",
       from_bits<float16_t>(
           {0x0000, 0x8000, 0x3c00, 0x7bff, 0x7c00, 0xfc00, 0x7e00, 0x7d01, 0x0001}, {3, 3})},
      {"bf16", from_bits<bfloat16_t>(
                   {0x0000, 0x8000, 0x3f80, 0x7f7f, 0x7f80, 0xff80, 0x7fc0, 0x7fa1, 0x0001}, {9})},
      {"f32", array(std::vector<float>{-0.0f, 1e-45f, 3.4e38f, inf, -inf, nan_payload}, {2, 3})},
      {"f64", array(std::vector<double>{-0.0, 5e-324, 1.7e308,
                                        -std::numeric_limits<double>::infinity(), dnan, 0.1},
                    {3, 2})},
  };
}

}  // namespace

TEST_CASE("io: every dtype round-trips bit for bit") {
  TempDir dir;
  auto arrays = every_dtype();
  std::string path = dir.file("all.safetensors");
  save_safetensors(path, arrays);
  auto loaded = load_safetensors(path);
  REQUIRE(loaded.size() == arrays.size());
  for (auto& [name, a] : arrays) {
    INFO("tensor " << name);
    REQUIRE(loaded.count(name));
    array b = loaded.at(name);
    CHECK(b.dtype() == a.dtype());
    CHECK(b.shape() == a.shape());
    CHECK(b.is_evaluated());
    CHECK(bytes_of(b) == bytes_of(a));
  }
  CHECK(loaded.at("f16").to_vector<float>()[4] == std::numeric_limits<float>::infinity());
  CHECK(std::isnan(loaded.at("f32").to_vector<float>()[5]));
  CHECK(loaded.at("bool").to_vector<bool>() == std::vector<bool>{true, false, true, true});
  CHECK(loaded.at("i64").to_vector<int64_t>()[0] == INT64_MIN);
}

TEST_CASE("io: 0-d, empty and unevaluated arrays") {
  TempDir dir;
  std::string path = dir.file("shapes.safetensors");
  std::map<std::string, array> arrays{
      {"scalar", array(3.5)},
      {"empty", zeros({0}, int32)},
      {"empty3", zeros({2, 0, 3}, float16)},
      {"lazy", array({1.0f, 2.0f}) * 3.0f},
  };
  CHECK_FALSE(arrays.at("lazy").is_evaluated());
  save_safetensors(path, arrays);
  auto loaded = load_safetensors(path);
  CHECK(loaded.at("scalar").shape() == Shape{});
  CHECK(loaded.at("scalar").dtype() == float64);
  CHECK(loaded.at("scalar").item<double>() == 3.5);
  CHECK(loaded.at("empty").shape() == Shape{0});
  CHECK(loaded.at("empty").dtype() == int32);
  CHECK(loaded.at("empty3").shape() == Shape{2, 0, 3});
  CHECK(loaded.at("empty3").dtype() == float16);
  mfx::test::check_close(loaded.at("lazy"), {3, 6}, {2});

  // No tensors at all: a header-only file.
  save_safetensors(dir.file("none.safetensors"), {});
  CHECK(read_bytes(dir.file("none.safetensors")) == le64(8) + "{}      ");
  CHECK(load_safetensors(dir.file("none.safetensors")).empty());
}

TEST_CASE("io: non-contiguous views are written in row-major order") {
  TempDir dir;
  array base = arange(0, 24, 1, float32);
  array m = reshape(base, {4, 6});
  array t = transpose(m);                                     // (6,4), strides (1,6)
  array s = slice(m, {3, 5}, {-5, -7}, {-2, -2});             // negative steps
  array b = broadcast_to(array({1.0f, 2.0f, 3.0f}), {2, 3});  // stride 0
  array f = flip(reshape(arange(0, 6, 1, int64), {2, 3}), {1});
  // float16 bits transposed by hand: bit-exact through the byte copy.
  array h = from_bits<float16_t>({0x3c00, 0x4000, 0x7e01, 0xfc00, 0x8000, 0x0001}, {2, 3});
  array ht = transpose(h);
  for (array* v : {&t, &s, &b, &f, &ht}) {
    v->eval();
    CHECK_FALSE(v->flags().row_contiguous);
  }
  std::string path = dir.file("views.safetensors");
  save_safetensors(path, {{"t", t}, {"s", s}, {"b", b}, {"f", f}, {"ht", ht}});
  auto loaded = load_safetensors(path);
  CHECK(loaded.at("t").shape() == Shape{6, 4});
  CHECK(loaded.at("t").to_vector<float>() == t.to_vector<float>());
  CHECK(loaded.at("t").to_vector<float>()[1] == 6.0f);  // m[1][0]
  CHECK(loaded.at("s").shape() == s.shape());
  CHECK(loaded.at("s").to_vector<float>() == s.to_vector<float>());
  CHECK(loaded.at("b").to_vector<float>() == std::vector<float>{1, 2, 3, 1, 2, 3});
  CHECK(loaded.at("f").to_vector<int64_t>() == std::vector<int64_t>{2, 1, 0, 5, 4, 3});
  std::vector<uint16_t> expect{0x3c00, 0xfc00, 0x4000, 0x8000, 0x7e01, 0x0001};
  CHECK(bytes_of(loaded.at("ht")) == raw(expect));
}

TEST_CASE("io: metadata round trip") {
  TempDir dir;
  std::string path = dir.file("meta.safetensors");
  std::map<std::string, std::string> meta{
      {"format", "pt"}, {"note", "ünïcode \"quoted\"\n"}, {"empty", ""}};
  save_safetensors(path, {{"x", array({1, 2, 3})}}, meta);
  std::map<std::string, std::string> got{{"stale", "value"}};
  auto loaded = load_safetensors(path, &got);
  CHECK(got == meta);
  CHECK(loaded.at("x").to_vector<int32_t>() == std::vector<int32_t>{1, 2, 3});

  // Without metadata no "__metadata__" is written and none is read back.
  save_safetensors(path, {{"x", array({1})}});
  CHECK(read_bytes(path).find("__metadata__") == std::string::npos);
  load_safetensors(path, &got);
  CHECK(got.empty());
}

TEST_CASE("io: a million floats") {
  TempDir dir;
  std::string path = dir.file("big.safetensors");
  array big = arange(0, 1e6, 1, float32);
  save_safetensors(path, {{"big", big}});
  CHECK(std::filesystem::file_size(path) % 8 == 0);  // 8 + padded header + 4e6 bytes
  auto loaded = load_safetensors(path);
  array b = loaded.at("big");
  CHECK(b.shape() == Shape{1000000});
  CHECK(bytes_of(b) == bytes_of(big));
  CHECK(b.to_vector<float>()[999999] == 999999.0f);
}

TEST_CASE("io: the exact bytes written for small files") {
  TempDir dir;
  std::string path = dir.file("tiny.safetensors");
  save_safetensors(path, {{"w", array({1.0f, 2.0f})}}, {{"format", "pt"}});
  // python3: json.dumps({"__metadata__": {"format": "pt"}, "w": {"dtype": "F32", "shape": [2],
  //   "data_offsets": [0, 8]}}, separators=(",", ":")) is 85 bytes; 3 spaces pad it to 88.
  std::string header =
      R"({"__metadata__":{"format":"pt"},"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  REQUIRE(header.size() == 85);
  std::string expected = std::string("\x58\0\0\0\0\0\0\0", 8) + header + "   " +
                         std::string("\x00\x00\x80\x3f\x00\x00\x00\x40", 8);  // 1.0f, 2.0f LE
  CHECK(read_bytes(path) == expected);

  // Same element size: sorted name order; 105 header bytes pad to 112.
  save_safetensors(path, {{"b", array({1, 2, 3}, {3}, uint8)}, {"a", array(int32_t{7})}});
  std::string header2 = R"({"a":{"dtype":"I32","shape":[],"data_offsets":[0,4]},)"
                        R"("b":{"dtype":"U8","shape":[3],"data_offsets":[4,7]}})";
  REQUIRE(header2.size() == 105);
  CHECK(read_bytes(path) ==
        le64(112) + header2 + std::string(7, ' ') + std::string("\x07\0\0\0\x01\x02\x03", 7));
}

TEST_CASE("io: tensors are aligned to their element size (larger elements first)") {
  TempDir dir;
  std::string path = dir.file("aligned.safetensors");
  // By name alone "a" (3 bytes) would push the float64 "b" to offset 3.
  save_safetensors(path, {{"a", array({1, 2, 3}, {3}, uint8)},
                          {"b", array({0.5, 1.5})},
                          {"c", array({1.f, 2.f, 3.f})}});
  std::string header = R"({"b":{"dtype":"F64","shape":[2],"data_offsets":[0,16]},)"
                       R"("c":{"dtype":"F32","shape":[3],"data_offsets":[16,28]},)"
                       R"("a":{"dtype":"U8","shape":[3],"data_offsets":[28,31]}})";
  std::string bytes = read_bytes(path);
  CHECK(bytes.substr(8, header.size()) == header);
  auto back = load_safetensors(path);
  CHECK(back.at("b").to_vector<double>() == std::vector<double>{0.5, 1.5});
  CHECK(back.at("a").to_vector<int>() == std::vector<int>{1, 2, 3});
}

TEST_CASE("io: files from other writers load (hand-built per the spec)") {
  TempDir dir;
  std::string path = dir.file("foreign.safetensors");
  // Keys in unsorted order, fields in another order, extra whitespace, data
  // not in name order, a gap between tensors and trailing bytes (all legal).
  std::string header = R"({ "z.bias": {"data_offsets": [0, 4], "shape": [2], "dtype": "BF16"},
    "__metadata__": {"format": "pt"},
    "a.weight": {"dtype": "F32", "shape": [1, 2], "data_offsets": [8, 16]},
    "flags": {"shape": [3], "dtype": "BOOL", "data_offsets": [16, 19]},
    "n": {"dtype": "I64", "shape": [], "data_offsets": [24, 32]},
    "e": {"dtype": "F64", "shape": [0, 4], "data_offsets": [32, 32]} })";
  std::string data = std::string("\x80\x3f\x00\xc0", 4)                    // bf16 1, -2
                     + std::string("\xff\xff\xff\xff", 4)                  // unused gap
                     + std::string("\x00\x00\x80\xbf\x00\x00\x20\x41", 8)  // f32 -1, 10
                     + std::string("\x01\x00\x02", 3)                      // bool, 2 reads true
                     + std::string(5, '\0')                                // padding gap
                     + std::string("\xfe\xff\xff\xff\xff\xff\xff\xff", 8)  // i64 -2
                     + "trailing";
  write_bytes(path, spec_file(header, data));
  std::map<std::string, std::string> meta;
  auto t = load_safetensors(path, &meta);
  CHECK(meta == std::map<std::string, std::string>{{"format", "pt"}});
  REQUIRE(t.size() == 5);
  CHECK(t.at("z.bias").dtype() == bfloat16);
  CHECK(t.at("z.bias").to_vector<float>() == std::vector<float>{1.0f, -2.0f});
  CHECK(t.at("a.weight").shape() == Shape{1, 2});
  CHECK(t.at("a.weight").to_vector<float>() == std::vector<float>{-1.0f, 10.0f});
  CHECK(t.at("flags").to_vector<bool>() == std::vector<bool>{true, false, true});
  CHECK(t.at("n").item<int64_t>() == -2);
  CHECK(t.at("e").shape() == Shape{0, 4});
}

TEST_CASE("io: the numpy fixture file written by Python loads") {
  // tests/fixtures/gen_core_fixtures.py writes it with struct + json.
  auto t = load_safetensors(mfx::test::data_path("core_fixtures.safetensors"));
  REQUIRE(t.count("exp.in0"));
  REQUIRE(t.count("exp.out"));
  array x = t.at("exp.in0");
  CHECK(x.dtype() == float64);
  CHECK(x.shape() == Shape{3, 4});
  auto in = x.to_vector<double>();
  std::vector<double> expected;
  for (double v : in) expected.push_back(std::exp(v));
  mfx::test::check_close(t.at("exp.out"), expected, {3, 4}, 1e-12, 0);
}

TEST_CASE("io: save rejects reserved names and null arrays before touching the disk") {
  TempDir dir;
  std::string path = dir.file("x.safetensors");
  check_throws_with(
      [&] {
        save_safetensors(path, {{"__metadata__", array(1.0f)}});
      },
      {"[save_safetensors]", "__metadata__", "reserved"});
  check_throws_with(
      [&] {
        save_safetensors(path, {{"w", array()}});
      },
      {"[save_safetensors]", "'w'", "null"});
  check_throws_with([&] { save_safetensors(path, {{"bad\xff", array(1.0f)}}); }, {"UTF-8"});
  CHECK(dir.entries().empty());
}

TEST_CASE("io: corrupt and truncated files throw runtime_error naming file and problem") {
  TempDir dir;
  std::string good = dir.file("good.safetensors");
  save_safetensors(good, {{"w", array({1.0f, 2.0f, 3.0f, 4.0f, 5.0f, 6.0f})}, {"b", array({7})}},
                   {{"k", "v"}});
  const std::string bytes = read_bytes(good);
  uint64_t header_len = 0;
  std::memcpy(&header_len, bytes.data(), 8);
  const size_t data_start = 8 + header_len;
  REQUIRE(bytes.size() == data_start + 4 + 24);  // "b" then "w"
  std::string bad = dir.file("bad.safetensors");

  SECTION("truncation") {
    write_bytes(bad, bytes.substr(0, 0));
    mfx::test::check_runtime_error_with(
        [&] { load_safetensors(bad); },
        {"[load_safetensors]", bad, "0 bytes, shorter than the 8-byte"});
    write_bytes(bad, bytes.substr(0, 7));
    mfx::test::check_runtime_error_with([&] { load_safetensors(bad); }, {bad, "7 bytes"});
    for (size_t len : {size_t{8}, size_t{20}, data_start - 1}) {
      write_bytes(bad, bytes.substr(0, len));
      mfx::test::check_runtime_error_with([&] { load_safetensors(bad); },
                                          {bad, "header length", "exceeds", "truncated"});
    }
    write_bytes(bad, bytes.substr(0, data_start + 4 + 10));
    mfx::test::check_runtime_error_with(
        [&] { load_safetensors(bad); },
        {bad, "tensor 'w' data_offsets [4,28] exceed the data size 14 (file truncated?)"});
    write_bytes(bad, bytes.substr(0, data_start));
    mfx::test::check_runtime_error_with([&] { load_safetensors(bad); },
                                        {"tensor 'b' data_offsets [0,4] exceed the data size 0"});
  }

  SECTION("wrong header length") {
    std::string s = bytes;
    s.replace(0, 8, le64(~uint64_t{0}));
    write_bytes(bad, s);
    mfx::test::check_runtime_error_with([&] { load_safetensors(bad); },
                                        {bad, "header length 18446744073709551615"});
    s.replace(0, 8, le64(header_len - 8));  // cuts the JSON short
    write_bytes(bad, s);
    mfx::test::check_runtime_error_with([&] { load_safetensors(bad); }, {bad, "not valid JSON"});
    s.replace(0, 8, le64(0));
    write_bytes(bad, s);
    mfx::test::check_runtime_error_with([&] { load_safetensors(bad); }, {bad, "not valid JSON"});
  }

  SECTION("header problems") {
    auto with_header = [&](const std::string& header,
                           const std::string& data = std::string(32, 0)) {
      write_bytes(bad, spec_file(header, data));
    };
    struct Case {
      std::string header;
      std::vector<std::string> parts;
    };
    std::vector<Case> cases{
        {"{not json", {"not valid JSON"}},
        {"[1, 2]", {"header is a JSON array, not an object"}},
        {R"({"w": {"dtype": "F8_E4M3", "shape": [2], "data_offsets": [0, 2]}})",
         {"tensor 'w' has unsupported dtype 'F8_E4M3'", "BF16"}},
        {R"({"w": {"dtype": 5, "shape": [2], "data_offsets": [0, 8]}})",
         {"tensor 'w' has a dtype that is a JSON number, not a string"}},
        {R"({"w": {"shape": [2], "data_offsets": [0, 8]}})",
         {"tensor 'w' is missing the field 'dtype'"}},
        {R"({"w": {"dtype": "F32", "data_offsets": [0, 8]}})", {"missing the field 'shape'"}},
        {R"({"w": {"dtype": "F32", "shape": [2]}})", {"missing the field 'data_offsets'"}},
        {R"({"w": [1]})", {"tensor 'w' is a JSON array, not an object"}},
        {R"({"w": {"dtype": "F32", "shape": [-2], "data_offsets": [0, 8]}})",
         {"tensor 'w' shape [-2] must hold non-negative integers"}},
        {R"({"w": {"dtype": "F32", "shape": [2.5], "data_offsets": [0, 8]}})", {"shape [2.5]"}},
        {R"({"w": {"dtype": "F32", "shape": 2, "data_offsets": [0, 8]}})",
         {"shape 2 is not a list"}},
        {R"({"w": {"dtype": "F32", "shape": [4294967296, 4294967296, 4294967296], "data_offsets": [0, 8]}})",
         {"too large"}},
        {R"({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 12]}})",
         {"tensor 'w' data_offsets [0,12] span 12 bytes but shape (2) of F32 needs 8"}},
        {R"({"w": {"dtype": "F32", "shape": [2], "data_offsets": [8, 0]}})", {"0 <= begin <= end"}},
        {R"({"w": {"dtype": "F32", "shape": [2], "data_offsets": [-8, 0]}})",
         {"data_offsets [-8,0] must be"}},
        {R"({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0]}})",
         {"data_offsets [0] must be"}},
        {R"({"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]},
             "b": {"dtype": "F32", "shape": [2], "data_offsets": [12, 20]}})",
         {"tensors 'a' [0,16] and 'b' [12,20] overlap"}},
        {R"({"a": {"dtype": "I32", "shape": [2], "data_offsets": [0, 8]},
             "b": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}})",
         {"'a' [0,8] and 'b' [0,8] overlap"}},
        {R"({"__metadata__": {"k": 1}})",
         {"metadata value for key 'k' is a JSON number, not a string"}},
        {R"({"__metadata__": ["k"]})", {"'__metadata__' is a JSON array, not an object"}},
        {R"({"w": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1]},
             "w": {"dtype": "U8", "shape": [1], "data_offsets": [1, 2]}})",
         {"repeats the key 'w'"}},
    };
    for (auto& c : cases) {
      INFO("header: " << c.header);
      with_header(c.header);
      auto parts = c.parts;
      parts.push_back("[load_safetensors] " + bad + ": ");
      mfx::test::check_runtime_error_with([&] { load_safetensors(bad); }, parts);
    }
    // Empty tensors may share offsets with others without overlapping.
    with_header(R"({"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]},
                    "e": {"dtype": "F32", "shape": [0], "data_offsets": [8, 8]}})");
    CHECK(load_safetensors(bad).size() == 2);
  }

  SECTION("missing files and directories") {
    mfx::test::check_runtime_error_with([&] { load_safetensors(dir.file("nope.safetensors")); },
                                        {"nope.safetensors", "cannot open", "No such file"});
    mfx::test::check_runtime_error_with([&] { load_safetensors(dir.path); },
                                        {dir.path, "directory"});
  }

  SECTION("no input crashes the loader") {
    // Every truncation and every single-byte corruption of the header either
    // loads or throws runtime_error.
    size_t failures = 0;
    auto attempt = [&](const std::string& s) {
      write_bytes(bad, s);
      try {
        load_safetensors(bad);
      } catch (const std::runtime_error&) {
        ++failures;
      }
    };
    for (size_t len = 0; len < bytes.size(); ++len) attempt(bytes.substr(0, len));
    CHECK(failures == bytes.size());  // every proper prefix is invalid
    for (size_t i = 0; i < data_start; ++i) {
      for (unsigned char x : {0x01, 0x20, 0x80, 0xff}) {
        std::string s = bytes;
        s[i] = static_cast<char>(s[i] ^ x);
        attempt(s);
      }
    }
  }
}

TEST_CASE("io: saving replaces the target atomically") {
  TempDir dir;
  std::string path = dir.file("model.safetensors");
  save_safetensors(path, {{"old_a", zeros({1000})}, {"old_b", ones({10})}}, {{"v", "1"}});
  save_safetensors(path, {{"new", array({1.0f})}});
  std::map<std::string, std::string> meta;
  auto loaded = load_safetensors(path, &meta);
  CHECK(loaded.size() == 1);
  CHECK(loaded.count("new"));
  CHECK(meta.empty());
  // Exactly the new file: no stale bytes from the larger old one.
  CHECK(std::filesystem::file_size(path) == 8 + 56 + 4);  // 56-byte header needs no padding
  CHECK(dir.entries() == std::vector<std::string>{"model.safetensors"});

  SECTION("a save into a missing directory throws and leaves nothing behind") {
    std::string missing = dir.file("no_such_dir/model.safetensors");
    mfx::test::check_runtime_error_with(
        [&] {
          save_safetensors(missing, {{"w", array({1.0f})}});
        },
        {"[save_safetensors]", missing, "No such file or directory"});
    CHECK(dir.entries() == std::vector<std::string>{"model.safetensors"});
  }

  SECTION("a failing rename removes the temporary file") {
    std::filesystem::create_directory(dir.file("taken"));
    std::filesystem::create_directory(dir.file("taken/sub"));
    mfx::test::check_runtime_error_with(
        [&] {
          save_safetensors(dir.file("taken"), {{"w", array({1.0f})}});
        },
        {"[save_safetensors]", "rename", dir.file("taken")});
    CHECK(dir.entries() == std::vector<std::string>{"model.safetensors", "taken"});
  }

  SECTION("a write failing midway keeps the old file intact") {
    const std::string before = read_bytes(path);
    // A file size limit makes write() fail with EFBIG (SIGXFSZ ignored).
    struct rlimit old_limit;
    REQUIRE(::getrlimit(RLIMIT_FSIZE, &old_limit) == 0);
    auto old_handler = ::signal(SIGXFSZ, SIG_IGN);
    struct rlimit small = old_limit;
    small.rlim_cur = 4096;
    REQUIRE(::setrlimit(RLIMIT_FSIZE, &small) == 0);
    std::string msg;
    try {
      save_safetensors(path, {{"big", zeros({100000})}});
    } catch (const std::runtime_error& e) {
      msg = e.what();
    }
    ::setrlimit(RLIMIT_FSIZE, &old_limit);
    ::signal(SIGXFSZ, old_handler);
    INFO("message: " << msg);
    CHECK(msg.find("[save_safetensors] cannot write '" + path + "'") != std::string::npos);
    CHECK(read_bytes(path) == before);
    CHECK(dir.entries() == std::vector<std::string>{"model.safetensors"});
  }
}

// ------------------------------------------------------------------ trees

namespace {

Tree params() {
  return Tree{
      {"backbone", Tree(Tree::List{Tree{{"conv", Tree{{"weight", array({1.0f, 2.0f}, {1, 2})},
                                                      {"bias", array(0.5f)}}}}})},
      {"heads", Tree(Tree::List{Tree(Tree::List{array(int32_t{1})}), array({3, 4}, {2}, uint8)})},
      {"empty_list", Tree(Tree::List{})},
      {"empty_dict", Tree()},
      {"step", array(int64_t{10})},
  };
}

void check_same_tree(const Tree& a, const Tree& b) {
  REQUIRE(a.structure_str() == b.structure_str());
  REQUIRE(a.same_structure(b));
  auto fa = a.flatten(), fb = b.flatten();
  for (size_t i = 0; i < fa.size(); ++i) {
    INFO("leaf " << fa[i].first);
    CHECK(fa[i].first == fb[i].first);
    CHECK(fa[i].second.dtype() == fb[i].second.dtype());
    CHECK(fa[i].second.shape() == fb[i].second.shape());
    CHECK(bytes_of(fa[i].second) == bytes_of(fb[i].second));
  }
}

}  // namespace

TEST_CASE("io: save_tree/load_tree restore lists, dicts and empty containers") {
  TempDir dir;
  std::string path = dir.file("tree.safetensors");
  Tree t = params();
  save_tree(path, t, {{"epoch", "3"}});
  std::map<std::string, std::string> meta;
  Tree back = load_tree(path, &meta);
  check_same_tree(t, back);
  CHECK(back["heads"][0].is_list());
  CHECK(back["empty_list"].is_list());
  CHECK(back["empty_dict"].is_dict());
  CHECK(meta == std::map<std::string, std::string>{{"epoch", "3"}});

  // The leaves are plain tensors under their dotted paths.
  std::map<std::string, std::string> raw_meta;
  auto tensors = load_safetensors(path, &raw_meta);
  std::vector<std::string> names;
  for (auto& [n, a] : tensors) names.push_back(n);
  CHECK(names == std::vector<std::string>{"backbone.0.conv.bias", "backbone.0.conv.weight",
                                          "heads.0.0", "heads.1", "step"});
  CHECK(
      raw_meta.at(tree_metadata_key) ==
      R"({"backbone":[{"conv":{"bias":"backbone.0.conv.bias","weight":"backbone.0.conv.weight"}}],)"
      R"("empty_dict":{},"empty_list":[],"heads":[["heads.0.0"],"heads.1"],"step":"step"})");

  // A root leaf, a root list and an empty tree.
  save_tree(path, Tree(array({1.0f, 2.0f})));
  Tree leaf = load_tree(path);
  REQUIRE(leaf.is_leaf());
  CHECK(leaf.leaf().to_vector<float>() == std::vector<float>{1.0f, 2.0f});
  Tree list(Tree::List{array(1.0f), Tree(Tree::List{})});
  save_tree(path, list);
  check_same_tree(list, load_tree(path));
  save_tree(path, Tree());
  CHECK(load_tree(path).structure_str() == "{}");
}

TEST_CASE("io: load_tree reads files without a recorded structure") {
  TempDir dir;
  std::string path = dir.file("torch.safetensors");
  // A PyTorch-style state dict written by a plain safetensors writer.
  save_safetensors(path,
                   {{"backbone.0.body.layer1.0.conv1.weight", ones({2, 2})},
                    {"backbone.0.body.layer1.1.conv1.weight", zeros({2, 2})},
                    {"backbone.0.body.bn.running_mean", zeros({2})},
                    {"transformer.layers.0.w", ones({1})},
                    {"transformer.layers.2.w", ones({1})}},
                   {{"format", "pt"}});
  std::map<std::string, std::string> meta;
  Tree t = load_tree(path, &meta);
  CHECK(meta == std::map<std::string, std::string>{{"format", "pt"}});
  CHECK(t["backbone"].is_list());
  CHECK(t["backbone"][0]["body"]["layer1"].is_list());
  CHECK(t["transformer"]["layers"].is_dict());  // keys 0 and 2: not a list
  CHECK(t.at("backbone.0.body.layer1.1.conv1.weight").shape() == Shape{2, 2});
  CHECK(t.leaves().size() == 5);

  save_safetensors(path, {{"a", ones({1})}, {"a.b", ones({1})}});
  mfx::test::check_runtime_error_with([&] { load_tree(path); },
                                      {"[load_tree]", path, "do not form a tree", "'a'"});
}

TEST_CASE("io: save_tree and load_tree errors") {
  TempDir dir;
  std::string path = dir.file("t.safetensors");
  check_throws_with(
      [&] {
        save_tree(path, params(), {{tree_metadata_key, "x"}});
      },
      {"[save_tree]", "reserved"});
  Tree clash{{"a.b", array(1.0f)}, {"a", Tree{{"b", array(2.0f)}}}};
  check_throws_with([&] { save_tree(path, clash); }, {"[save_tree]", "'a.b'"});
  CHECK(dir.entries().empty());

  auto with_structure = [&](const std::string& s) {
    save_safetensors(path, {{"x", array(1.0f)}, {"y", array(2.0f)}}, {{tree_metadata_key, s}});
  };
  with_structure(R"({"a": "x", "b": "y"})");
  CHECK(load_tree(path).structure_str() == "{a: *, b: *}");
  with_structure(R"({"a": "x", "b": "nope", "c": "y"})");
  mfx::test::check_runtime_error_with([&] { load_tree(path); },
                                      {"[load_tree]", path, "'nope'", "not in the file"});
  with_structure(R"({"a": "x"})");
  mfx::test::check_runtime_error_with([&] { load_tree(path); }, {"tensor 'y' is not part of"});
  with_structure(R"(["x", "x", "y"])");
  mfx::test::check_runtime_error_with([&] { load_tree(path); }, {"'x' twice"});
  with_structure(R"({"a": 3, "b": ["x", "y"]})");
  mfx::test::check_runtime_error_with([&] { load_tree(path); }, {"JSON number"});
  with_structure("{oops");
  mfx::test::check_runtime_error_with([&] { load_tree(path); }, {"not valid JSON"});
  with_structure(std::string(1000, '[') + std::string(1000, ']'));
  mfx::test::check_runtime_error_with([&] { load_tree(path); }, {"nested deeper"});
}
