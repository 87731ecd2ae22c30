// The safetensors format: an 8-byte little-endian header length N, N bytes of
// JSON (padded with spaces to a multiple of 8), then the tensor bytes.
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <stdexcept>
#include <system_error>
#include <tuple>

#include "cpu/strided.h"
#include "io/atomic_file.h"
#include "mfx/io.h"

namespace mfx {

static_assert(std::endian::native == std::endian::little,
              "safetensors data is little-endian; mfx assumes a little-endian host");

namespace {

using json = nlohmann::json;
using ordered_json = nlohmann::ordered_json;

constexpr const char* kMetadataKey = "__metadata__";
// The reference implementation refuses larger headers; so do we, before
// reading them into memory.
constexpr uint64_t kMaxHeaderBytes = 100'000'000;

const char* dtype_code(Dtype t) {
  switch (t) {
    case Dtype::bool_:
      return "BOOL";
    case Dtype::uint8:
      return "U8";
    case Dtype::int32:
      return "I32";
    case Dtype::int64:
      return "I64";
    case Dtype::float16:
      return "F16";
    case Dtype::bfloat16:
      return "BF16";
    case Dtype::float32:
      return "F32";
    case Dtype::float64:
      return "F64";
  }
  throw std::logic_error("[safetensors] unknown dtype");
}

std::optional<Dtype> dtype_from_code(const std::string& code) {
  for (Dtype t : {Dtype::bool_, Dtype::uint8, Dtype::int32, Dtype::int64, Dtype::float16,
                  Dtype::bfloat16, Dtype::float32, Dtype::float64}) {
    if (code == dtype_code(t)) return t;
  }
  return std::nullopt;
}

// Row-major bytes of an evaluated (possibly strided) array, copied bit for bit
// (no conversion, so NaN payloads and half-precision bits survive). W is the
// element width, fixed at compile time so each element is a single move.
template <size_t W>
void copy_row_major_bytes(const array& a, char* dst) {
  const char* src = static_cast<const char*>(a.raw_data());
  Strides out_strides = row_major_strides(a.shape());
  constexpr int64_t w = static_cast<int64_t>(W);
  cpu::for_each_row<2>(a.shape(), {&a.strides(), &out_strides},
                       [&](std::array<int64_t, 2> off, int64_t n, std::array<int64_t, 2> inc) {
                         const char* s = src + off[0] * w;
                         char* d = dst + off[1] * w;
                         for (int64_t i = 0; i < n; ++i) {
                           std::memcpy(d + i * inc[1] * w, s + i * inc[0] * w, W);
                         }
                       });
}

void copy_row_major_bytes(const array& a, char* dst) {
  switch (a.itemsize()) {
    case 1:
      return copy_row_major_bytes<1>(a, dst);
    case 2:
      return copy_row_major_bytes<2>(a, dst);
    case 4:
      return copy_row_major_bytes<4>(a, dst);
    case 8:
      return copy_row_major_bytes<8>(a, dst);
  }
  throw std::logic_error("[save_safetensors] unexpected element size");
}

// ---------------------------------------------------------------- reading

// A read-only file descriptor that closes itself.
struct InputFile {
  int fd = -1;
  ~InputFile() {
    if (fd >= 0) ::close(fd);
  }
};

class Loader {
 public:
  explicit Loader(const std::string& path) : path_(path) {}

  [[noreturn]] void fail(const std::string& problem) const {
    throw std::runtime_error(fmt::format("[load_safetensors] {}: {}", path_, problem));
  }

  void open() {
    file_.fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
    if (file_.fd < 0) fail(fmt::format("cannot open: {}", std::generic_category().message(errno)));
    struct stat st;
    if (::fstat(file_.fd, &st) != 0) {
      fail(fmt::format("cannot stat: {}", std::generic_category().message(errno)));
    }
    if (S_ISDIR(st.st_mode)) fail("is a directory, not a safetensors file");
    size_ = static_cast<uint64_t>(st.st_size);
  }

  // Reads exactly n bytes at `offset` or fails naming `what`.
  void read_at(uint64_t offset, void* dst, uint64_t n, const std::string& what) const {
    char* p = static_cast<char*>(dst);
    while (n > 0) {
      ssize_t r = ::pread(file_.fd, p, static_cast<size_t>(std::min<uint64_t>(n, 1u << 30)),
                          static_cast<off_t>(offset));
      if (r < 0) {
        if (errno == EINTR) continue;
        fail(fmt::format("cannot read {}: {}", what, std::generic_category().message(errno)));
      }
      if (r == 0) fail(fmt::format("the file ended while reading {} (truncated?)", what));
      p += r;
      n -= static_cast<uint64_t>(r);
      offset += static_cast<uint64_t>(r);
    }
  }

  json read_header() {
    if (size_ < 8) {
      fail(fmt::format("the file is {} bytes, shorter than the 8-byte header length", size_));
    }
    unsigned char len_bytes[8];
    read_at(0, len_bytes, 8, "the header length");
    uint64_t n = 0;
    for (int i = 7; i >= 0; --i) n = (n << 8) | len_bytes[i];
    if (n > size_ - 8) {
      fail(
          fmt::format("the header length {} exceeds the {} bytes that follow it (truncated, or "
                      "not a safetensors file?)",
                      n, size_ - 8));
    }
    if (n > kMaxHeaderBytes) {
      fail(fmt::format("the header length {} exceeds the limit of {} bytes", n, kMaxHeaderBytes));
    }
    header_len_ = n;
    std::string text(static_cast<size_t>(n), '\0');
    read_at(8, text.data(), n, "the header");

    // Reject duplicate keys at any level: JSON parsers disagree on which one wins.
    std::vector<std::set<std::string>> open_objects;
    std::optional<std::string> duplicate;
    auto callback = [&](int, json::parse_event_t event, json& parsed) {
      if (event == json::parse_event_t::object_start) {
        open_objects.emplace_back();
      } else if (event == json::parse_event_t::object_end) {
        if (!open_objects.empty()) open_objects.pop_back();
      } else if (event == json::parse_event_t::key && !open_objects.empty()) {
        const auto& key = parsed.get_ref<const std::string&>();
        if (!open_objects.back().insert(key).second && !duplicate) duplicate = key;
      }
      return true;
    };
    json header;
    try {
      header = json::parse(text, callback);
    } catch (const json::exception& e) {
      fail(fmt::format("the header is not valid JSON ({})", e.what()));
    }
    if (duplicate) fail(fmt::format("the header repeats the key '{}'", *duplicate));
    if (!header.is_object()) {
      fail(fmt::format("the header is a JSON {}, not an object", header.type_name()));
    }
    return header;
  }

  uint64_t data_start() const { return 8 + header_len_; }
  uint64_t data_size() const { return size_ - data_start(); }

 private:
  std::string path_;
  InputFile file_;
  uint64_t size_ = 0;
  uint64_t header_len_ = 0;
};

struct Entry {
  std::string name;
  Dtype dtype;
  Shape shape;
  uint64_t begin, end;
};

// A non-negative JSON integer, or nullopt.
std::optional<uint64_t> as_count(const json& v) {
  if (v.is_number_unsigned()) return v.get<uint64_t>();
  if (v.is_number_integer() && v.get<int64_t>() >= 0)
    return static_cast<uint64_t>(v.get<int64_t>());
  return std::nullopt;
}

Entry parse_entry(const Loader& L, const std::string& name, const json& info, uint64_t data_size) {
  auto bad = [&](const std::string& problem) {
    L.fail(fmt::format("tensor '{}' {}", name, problem));
  };
  if (!info.is_object()) bad(fmt::format("is a JSON {}, not an object", info.type_name()));
  for (const char* field : {"dtype", "shape", "data_offsets"}) {
    if (!info.contains(field)) bad(fmt::format("is missing the field '{}'", field));
  }
  Entry e;
  e.name = name;

  const json& code = info["dtype"];
  if (!code.is_string())
    bad(fmt::format("has a dtype that is a JSON {}, not a string", code.type_name()));
  auto dt = dtype_from_code(code.get<std::string>());
  if (!dt) {
    bad(fmt::format(
        "has unsupported dtype '{}' (supported: BOOL, U8, I32, I64, F16, BF16, F32, F64)",
        code.get<std::string>()));
  }
  e.dtype = *dt;

  const json& shape = info["shape"];
  if (!shape.is_array()) bad(fmt::format("shape {} is not a list", shape.dump()));
  // Element count and byte size with overflow checks: headers are untrusted.
  uint64_t nbytes = size_of(e.dtype);
  for (const json& d : shape) {
    auto v = as_count(d);
    if (!v || *v > static_cast<uint64_t>(INT64_MAX)) {
      bad(fmt::format("shape {} must hold non-negative integers", shape.dump()));
    }
    e.shape.push_back(static_cast<int64_t>(*v));
    if (nbytes != 0 && *v != 0 && nbytes > UINT64_MAX / *v) {
      bad(fmt::format("shape {} is too large", shape.dump()));
    }
    nbytes *= *v;
  }

  const json& offsets = info["data_offsets"];
  std::optional<uint64_t> b, en;
  if (offsets.is_array() && offsets.size() == 2) {
    b = as_count(offsets[0]);
    en = as_count(offsets[1]);
  }
  if (!b || !en || *b > *en) {
    bad(fmt::format("data_offsets {} must be [begin, end] with 0 <= begin <= end", offsets.dump()));
  }
  e.begin = *b;
  e.end = *en;
  if (e.end - e.begin != nbytes) {
    bad(fmt::format("data_offsets [{},{}] span {} bytes but shape {} of {} needs {}", e.begin,
                    e.end, e.end - e.begin, shape_str(e.shape), dtype_code(e.dtype), nbytes));
  }
  if (e.end > data_size) {
    bad(fmt::format("data_offsets [{},{}] exceed the data size {} (file truncated?)", e.begin,
                    e.end, data_size));
  }
  return e;
}

void parse_metadata(const Loader& L, const json& meta, std::map<std::string, std::string>* out) {
  if (!meta.is_object()) {
    L.fail(fmt::format("'__metadata__' is a JSON {}, not an object", meta.type_name()));
  }
  for (auto& [k, v] : meta.items()) {
    if (!v.is_string()) {
      L.fail(
          fmt::format("metadata value for key '{}' is a JSON {}, not a string", k, v.type_name()));
    }
    if (out) (*out)[k] = v.get<std::string>();
  }
}

}  // namespace

void save_safetensors(const std::string& path, const std::map<std::string, array>& arrays,
                      const std::map<std::string, std::string>& metadata) {
  std::vector<array> all;
  for (auto& [name, a] : arrays) {
    if (name == kMetadataKey) {
      throw std::invalid_argument(
          "[save_safetensors] '__metadata__' is reserved and cannot name a tensor");
    }
    if (!a.valid()) {
      throw std::invalid_argument(
          fmt::format("[save_safetensors] tensor '{}' is a null array", name));
    }
    all.push_back(a);
  }
  mfx::eval(all);

  // Data order as the reference writer: larger element sizes first, then by
  // name, so every tensor starts at an offset aligned to its element size
  // (zero-copy readers rely on that).
  std::vector<std::pair<std::string, array>> ordered(arrays.begin(), arrays.end());
  std::stable_sort(ordered.begin(), ordered.end(), [](const auto& x, const auto& y) {
    return x.second.itemsize() > y.second.itemsize();
  });

  // Key order as the reference writer: metadata first, then the tensors in
  // data order; fields dtype, shape, data_offsets.
  ordered_json header = ordered_json::object();
  if (!metadata.empty()) header[kMetadataKey] = metadata;
  uint64_t offset = 0;
  for (auto& [name, a] : ordered) {
    ordered_json info = ordered_json::object();
    info["dtype"] = dtype_code(a.dtype());
    info["shape"] = a.shape();
    info["data_offsets"] = {offset, offset + a.nbytes()};
    header[name] = std::move(info);
    offset += a.nbytes();
  }
  std::string text;
  try {
    text = header.dump();
  } catch (const ordered_json::exception& e) {
    throw std::invalid_argument(fmt::format(
        "[save_safetensors] tensor names and metadata must be valid UTF-8 ({})", e.what()));
  }
  text.append((8 - text.size() % 8) % 8, ' ');

  io::AtomicFile file(path, "save_safetensors");
  unsigned char len_bytes[8];
  for (int i = 0; i < 8; ++i) len_bytes[i] = static_cast<unsigned char>(text.size() >> (8 * i));
  file.write(len_bytes, 8);
  file.write(text.data(), text.size());
  std::vector<char> scratch;
  for (auto& [name, a] : ordered) {
    if (a.size() == 0) continue;
    if (a.flags().row_contiguous) {
      file.write(a.raw_data(), a.nbytes());
    } else {
      scratch.resize(a.nbytes());
      copy_row_major_bytes(a, scratch.data());
      file.write(scratch.data(), scratch.size());
    }
  }
  file.commit();
}

std::map<std::string, array> load_safetensors(const std::string& path,
                                              std::map<std::string, std::string>* metadata) {
  Loader L(path);
  L.open();
  json header = L.read_header();

  // Validate everything before reading (or allocating for) any tensor.
  std::vector<Entry> entries;
  if (metadata) metadata->clear();
  for (auto& [name, info] : header.items()) {
    if (name == kMetadataKey) {
      parse_metadata(L, info, metadata);
    } else {
      entries.push_back(parse_entry(L, name, info, L.data_size()));
    }
  }
  std::vector<const Entry*> by_offset;
  for (auto& e : entries) {
    if (e.end > e.begin) by_offset.push_back(&e);  // empty tensors occupy no bytes
  }
  std::sort(by_offset.begin(), by_offset.end(), [](const Entry* a, const Entry* b) {
    return std::tie(a->begin, a->end, a->name) < std::tie(b->begin, b->end, b->name);
  });
  for (size_t i = 1; i < by_offset.size(); ++i) {
    const Entry &p = *by_offset[i - 1], &c = *by_offset[i];
    if (c.begin < p.end) {
      L.fail(fmt::format("tensors '{}' [{},{}] and '{}' [{},{}] overlap", p.name, p.begin, p.end,
                         c.name, c.begin, c.end));
    }
  }

  std::map<std::string, array> out;
  for (auto& e : entries) {
    array a = array::empty(e.shape, e.dtype);
    if (e.end > e.begin) {
      L.read_at(L.data_start() + e.begin, a.raw_data(), e.end - e.begin,
                fmt::format("tensor '{}'", e.name));
    }
    if (e.dtype == Dtype::bool_) {
      // Any non-zero byte is true; other bytes would be invalid C++ bools.
      auto* p = static_cast<unsigned char*>(a.raw_data());
      for (int64_t i = 0; i < a.size(); ++i) p[i] = p[i] != 0;
    }
    out.emplace(e.name, std::move(a));
  }
  return out;
}

}  // namespace mfx
