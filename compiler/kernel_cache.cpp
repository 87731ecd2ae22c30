// Kernel cache: a hash -> slot map in memory (one mutex per slot, so one
// kernel compiles once while different kernels compile in parallel) backed by
// per-entry folders on disk (layout and write protocol in kernel_cache.h).
#include "compiler/kernel_cache.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <thread>
#include <unordered_map>
#include <vector>

namespace mfx::compiler {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

std::optional<std::string> read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return std::nullopt;
  return bytes;
}

// Writes `bytes` to a temporary file beside `path`, then renames it over
// `path`: readers see the old file or the new one, never a partial one.
bool write_atomic(const fs::path& path, const std::string& bytes) {
  static std::atomic<uint64_t> counter{0};
  fs::path tmp = path;
  tmp += fmt::format(".tmp.{}.{}.{}", ::getpid(),
                     std::hash<std::thread::id>{}(std::this_thread::get_id()), counter++);
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    out.close();
    if (!out) {
      std::error_code ec;
      fs::remove(tmp, ec);
      return false;
    }
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) {
    fs::remove(tmp, ec);
    return false;
  }
  return true;
}

json file_record(const std::string& bytes) {
  return {{"size", bytes.size()}, {"fnv1a64", fmt::format("{:016x}", fnv1a64(bytes))}};
}

// The files of an entry, read and checked against meta["files"]; nullopt when
// one is missing or differs.
std::optional<std::vector<std::string>> read_checked(const fs::path& dir, const json& meta,
                                                     const std::vector<std::string>& names) {
  std::vector<std::string> out;
  for (const auto& name : names) {
    auto bytes = read_file(dir / name);
    if (!bytes || !meta.contains("files") || !meta["files"].contains(name)) return std::nullopt;
    if (meta["files"][name] != file_record(*bytes)) return std::nullopt;
    out.push_back(std::move(*bytes));
  }
  return out;
}

// Writes the files, then meta.json (which makes the entry visible).
void write_entry(const fs::path& dir, json meta,
                 const std::vector<std::pair<std::string, const std::string*>>& files) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return;
  json records = json::object();
  for (const auto& [name, bytes] : files) {
    if (!write_atomic(dir / name, *bytes)) return;
    records[name] = file_record(*bytes);
  }
  meta["files"] = std::move(records);
  write_atomic(dir / "meta.json", meta.dump(2) + "\n");
}

// Bytes of the regular files under `dir`; what cannot be read counts 0.
int64_t folder_bytes(const fs::path& dir) {
  int64_t n = 0;
  std::error_code ec;
  fs::recursive_directory_iterator it(dir, fs::directory_options::skip_permission_denied, ec);
  for (const fs::recursive_directory_iterator end; !ec && it != end; it.increment(ec)) {
    std::error_code size_ec;
    if (!it->is_regular_file(size_ec)) continue;
    const auto size = it->file_size(size_ec);
    if (!size_ec) n += static_cast<int64_t>(size);
  }
  return n;
}

// A disk hit makes its entry the most recently used one.
void mark_used(const fs::path& entry) {
  std::error_code ec;
  fs::last_write_time(entry / "meta.json", fs::file_time_type::clock::now(), ec);
}

Kernel renamed(const Kernel& kernel, const KernelHash& hash) {
  Kernel k = kernel;
  k.name = kernel_entry_name(hash);
  return k;
}

// meta.json fields every entry has; `kernel` is already renamed.
json base_meta(const KernelHash& hash, Target target, const Kernel& kernel) {
  return {{"format", kKernelHashVersion},
          {"hash", hash.hex()},
          {"target", target_name(target)},
          {"entry", kernel.name},
          {"kernel", to_string(kernel)}};
}

// The parsed meta.json of an entry when it matches base_meta; nullopt else.
std::optional<json> read_meta(const fs::path& dir, const KernelHash& hash, Target target,
                              const Kernel& kernel) {
  auto text = read_file(dir / "meta.json");
  if (!text) return std::nullopt;
  json meta = json::parse(*text, nullptr, /*allow_exceptions=*/false);
  if (meta.is_discarded() || !meta.is_object()) return std::nullopt;
  const json expected = base_meta(hash, target, kernel);
  for (const auto& [key, value] : expected.items()) {
    if (!meta.contains(key) || meta[key] != value) return std::nullopt;
  }
  return meta;
}

}  // namespace

std::string KernelCache::default_dir() {
  if (const char* env = std::getenv("MFX_CACHE_DIR")) {
    std::string dir = env;
    return dir == "off" ? std::string() : dir;
  }
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg && xdg[0] == '/') {
    return (fs::path(xdg) / "mfx").string();
  }
  if (const char* home = std::getenv("HOME"); home && home[0]) {
    return (fs::path(home) / ".cache" / "mfx").string();
  }
  return {};
}

int64_t KernelCache::default_max_bytes() {
  const char* env = std::getenv("MFX_CACHE_MAX_BYTES");
  if (!env) return int64_t{2} << 30;
  const std::string text = env;
  size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
  const std::string suffix = text.substr(digits);
  int shift = -1;
  if (suffix.empty()) shift = 0;
  if (suffix == "K" || suffix == "k") shift = 10;
  if (suffix == "M" || suffix == "m") shift = 20;
  if (suffix == "G" || suffix == "g") shift = 30;
  // At most 2^50 bytes (a PiB), so the shifted value cannot overflow.
  if (digits == 0 || digits > 16 || shift < 0 || std::stoll(text.substr(0, digits)) <= 0 ||
      std::stoll(text.substr(0, digits)) > (int64_t{1} << (50 - shift))) {
    throw std::invalid_argument(fmt::format(
        "[KernelCache] MFX_CACHE_MAX_BYTES='{}': expected a positive byte count, optionally "
        "with a K, M or G suffix, at most 1 PiB (e.g. 500M)",
        text));
  }
  return std::stoll(text.substr(0, digits)) << shift;
}

std::string kernel_entry_name(const KernelHash& hash) {
  return "mfx_" + hash.hex();
}

struct KernelCache::Impl {
  struct Slot {
    std::mutex mutex;
    std::shared_ptr<const CpuKernel> cpu;
    std::shared_ptr<const PtxKernel> ptx;
  };

  std::string dir;
  int64_t max_bytes = 0;
  mutable std::mutex mutex;  // guards slots and stats
  std::unordered_map<KernelHash, std::shared_ptr<Slot>, KernelHashHasher> slots;
  Stats stats;
  std::mutex disk_mutex;  // serialises this process's accounting (taken before `mutex`)

  // Adds the entry just written to the folder's byte count, kept in
  // <dir>/bytes so that short-lived processes do not each walk the folder;
  // past the bound, measures the folder and evicts. Processes racing on the
  // count may lose an increment; the measurement at the bound corrects it.
  void account(const fs::path& written) {
    std::lock_guard<std::mutex> lock(disk_mutex);
    const fs::path counter = fs::path(dir) / "bytes";
    int64_t total = -1;
    if (auto text = read_file(counter)) {
      try {
        total = std::stoll(*text) + folder_bytes(written);
      } catch (const std::exception&) {
        total = -1;  // garbled: measure
      }
    }
    if (total < 0) total = folder_bytes(fs::path(dir) / "kernels");
    if (total > max_bytes) total = evict(written);
    write_atomic(counter, std::to_string(total) + "\n");
  }

  // Removes least recently used entries until the folder holds at most 3/4
  // of the bound (so that the next writes do not measure it again at once);
  // returns the bytes left. Entries without meta.json (being written) and
  // `keep` stay.
  int64_t evict(const fs::path& keep) {
    struct Entry {
      fs::file_time_type used;
      fs::path path;
      int64_t bytes;
    };
    std::vector<Entry> entries;
    int64_t total = 0;
    std::error_code ec;
    fs::directory_iterator it(fs::path(dir) / "kernels", ec);
    for (const fs::directory_iterator end; !ec && it != end; it.increment(ec)) {
      const int64_t bytes = folder_bytes(it->path());
      total += bytes;
      std::error_code time_ec;
      const auto used = fs::last_write_time(it->path() / "meta.json", time_ec);
      if (!time_ec && it->path() != keep) entries.push_back({used, it->path(), bytes});
    }
    std::sort(entries.begin(), entries.end(),
              [](const Entry& a, const Entry& b) { return a.used < b.used; });
    int64_t removed = 0;
    for (const Entry& e : entries) {
      if (total <= max_bytes / 4 * 3) break;
      std::error_code rm_ec;
      if (!fs::remove(e.path / "meta.json", rm_ec)) continue;  // gone already
      fs::remove_all(e.path, rm_ec);
      total -= e.bytes;
      ++removed;
    }
    count([&](Stats& st) { st.disk_evictions += removed; });
    return total;
  }

  std::shared_ptr<Slot> slot(const KernelHash& hash) {
    std::lock_guard<std::mutex> lock(mutex);
    auto& s = slots[hash];
    if (!s) s = std::make_shared<Slot>();
    return s;
  }
  template <class F>
  void count(F&& update) {
    std::lock_guard<std::mutex> lock(mutex);
    update(stats);
  }

  // Looks the slot's value up in memory, then on disk, then compiles; `load`
  // returns nullptr for a missing entry and sets `rejected` for an invalid one.
  template <class T, class Load, class Compile>
  std::shared_ptr<const T> get(const KernelHash& hash, std::shared_ptr<const T> Slot::*field,
                               Load&& load, Compile&& compile) {
    auto s = slot(hash);
    std::lock_guard<std::mutex> lock(s->mutex);
    if (auto hit = (*s).*field) {
      count([](Stats& st) { ++st.memory_hits; });
      return hit;
    }
    if (!dir.empty()) {
      auto t0 = std::chrono::steady_clock::now();
      bool rejected = false;
      std::shared_ptr<const T> loaded;
      try {
        loaded = load(rejected);
      } catch (const std::exception&) {
        rejected = true;  // unexpected JSON types, an unloadable object, ...
      }
      double dt = seconds_since(t0);
      if (loaded) {
        count([&](Stats& st) {
          ++st.disk_hits;
          st.disk_seconds += dt;
        });
        (*s).*field = loaded;
        return loaded;
      }
      if (rejected) count([](Stats& st) { ++st.disk_rejects; });
    }
    auto t0 = std::chrono::steady_clock::now();
    std::shared_ptr<const T> compiled = compile();
    double dt = seconds_since(t0);
    count([&](Stats& st) {
      ++st.compiles;
      st.compile_seconds += dt;
    });
    (*s).*field = compiled;
    return compiled;
  }
};

KernelCache& KernelCache::global() {
  // Never destroyed: its kernels may still run in other threads at exit.
  static KernelCache* cache = new KernelCache(default_dir(), default_max_bytes());
  return *cache;
}

KernelCache::KernelCache(std::string dir, int64_t max_bytes) : impl_(std::make_unique<Impl>()) {
  if (max_bytes <= 0) {
    throw std::invalid_argument(
        fmt::format("[KernelCache] max_bytes must be positive, got {}", max_bytes));
  }
  impl_->dir = std::move(dir);
  impl_->max_bytes = max_bytes;
}

KernelCache::~KernelCache() = default;

const std::string& KernelCache::dir() const {
  return impl_->dir;
}

std::string KernelCache::entry_dir(const KernelHash& hash) const {
  if (impl_->dir.empty()) return {};
  return (fs::path(impl_->dir) / "kernels" / hash.hex()).string();
}

KernelHash KernelCache::key(const Kernel& kernel, Target target, const CodegenOptions& options) {
  return kernel_hash(kernel, target, options,
                     target == Target::Cpu ? std::string_view(cpu_host_id()) : std::string_view());
}

std::shared_ptr<const CpuKernel> KernelCache::cpu(const Kernel& kernel,
                                                  const CodegenOptions& options) {
  KernelHash hash = key(kernel, Target::Cpu, options);
  Kernel k = renamed(kernel, hash);
  fs::path dir = entry_dir(hash);

  auto load = [&](bool& rejected) -> std::shared_ptr<const CpuKernel> {
    auto meta = read_meta(dir, hash, Target::Cpu, k);
    if (!meta) {
      rejected = fs::exists(dir / "meta.json");
      return nullptr;
    }
    rejected = true;
    if (!meta->contains("host") || (*meta)["host"] != cpu_host_id()) return nullptr;
    auto files = read_checked(dir, *meta, {"kernel.o", "kernel.mlir", "lowered.mlir"});
    if (!files) return nullptr;
    auto loaded = load_cpu_kernel((*files)[0], k.name, k.args.size(), std::move((*files)[1]),
                                  std::move((*files)[2]));
    rejected = false;
    mark_used(dir);
    return loaded;
  };
  auto compile = [&]() -> std::shared_ptr<const CpuKernel> {
    std::string object;
    std::shared_ptr<const CpuKernel> compiled =
        compile_cpu(k, options, dir.empty() ? nullptr : &object);
    if (!dir.empty()) {
      json meta = base_meta(hash, Target::Cpu, k);
      meta["host"] = cpu_host_id();
      meta["num_args"] = k.args.size();
      meta["compile_seconds"] = compiled->compile_seconds();
      write_entry(dir, std::move(meta),
                  {{"kernel.o", &object},
                   {"kernel.mlir", &compiled->mlir()},
                   {"lowered.mlir", &compiled->lowered_mlir()}});
      impl_->account(dir);
    }
    return compiled;
  };
  return impl_->get(hash, &Impl::Slot::cpu, load, compile);
}

std::shared_ptr<const PtxKernel> KernelCache::ptx(const Kernel& kernel, Target target,
                                                  const CodegenOptions& options) {
  if (target == Target::Cpu)
    throw std::invalid_argument("[KernelCache::ptx] target must be sm_80 or sm_90");
  KernelHash hash = key(kernel, target, options);
  Kernel k = renamed(kernel, hash);
  fs::path dir = entry_dir(hash);

  auto load = [&](bool& rejected) -> std::shared_ptr<const PtxKernel> {
    auto t0 = std::chrono::steady_clock::now();
    auto meta = read_meta(dir, hash, target, k);
    if (!meta) {
      rejected = fs::exists(dir / "meta.json");
      return nullptr;
    }
    rejected = true;
    auto files = read_checked(dir, *meta, {"kernel.ptx", "kernel.mlir"});
    if (!files) return nullptr;
    auto out = std::make_shared<PtxKernel>();
    out->block_threads = meta->at("block_threads").get<int>();
    out->grid_blocks = meta->at("grid_blocks").get<int64_t>();
    out->shared_bytes = meta->at("shared_bytes").get<int64_t>();
    if (out->block_threads <= 0 || out->grid_blocks <= 0 || out->shared_bytes < 0) return nullptr;
    out->entry = k.name;
    out->ptx = std::move((*files)[0]);
    out->mlir = std::move((*files)[1]);
    out->compile_seconds = seconds_since(t0);  // as for the CPU: the load time
    rejected = false;
    mark_used(dir);
    return out;
  };
  auto compile = [&]() -> std::shared_ptr<const PtxKernel> {
    auto compiled = std::make_shared<PtxKernel>(compile_ptx(k, target, options));
    if (!dir.empty()) {
      json meta = base_meta(hash, target, k);
      meta["block_threads"] = compiled->block_threads;
      meta["grid_blocks"] = compiled->grid_blocks;
      meta["shared_bytes"] = compiled->shared_bytes;
      meta["compile_seconds"] = compiled->compile_seconds;
      write_entry(dir, std::move(meta),
                  {{"kernel.ptx", &compiled->ptx}, {"kernel.mlir", &compiled->mlir}});
      impl_->account(dir);
    }
    return compiled;
  };
  return impl_->get(hash, &Impl::Slot::ptx, load, compile);
}

KernelCache::Stats KernelCache::stats() const {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  return impl_->stats;
}

void KernelCache::clear_memory() {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  impl_->slots.clear();
}

}  // namespace mfx::compiler
