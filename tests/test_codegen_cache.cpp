// Kernel cache: structural hashing, memory and disk hits, corrupt entries,
// threads and processes sharing one cache.
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <thread>

#include "compiler/kernel_builder.h"
#include "compiler/kernel_cache.h"
#include "compiler/kernel_hash.h"
#include "kernel_samples.h"
#include "test_utils.h"

using namespace mfx;
using namespace mfx::compiler;
using mfx::test::softmax_kernel;
namespace fs = std::filesystem;

namespace {

// A fresh, empty directory removed at the end of the test.
struct TempDir {
  fs::path path;
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "mfx-cache-test-XXXXXX").string();
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string str() const { return path.string(); }
};

// out[i] = x[i] * c + 1 over a grid of n points (float32).
Kernel affine_kernel(int64_t n, double c, const std::string& name = "affine") {
  Kernel k{name, {{float32, n}, {float32, n, true}}, {n}, {}, {Phase{}}};
  PhaseBuilder p(k.phases[0]);
  int i = p.grid_index(0);
  int x = p.load(0, float32, i);
  int y = p.binary(BinaryOp::Add, p.binary(BinaryOp::Multiply, x, p.constant(c, float32)),
                   p.constant(1, float32));
  p.store(1, i, y);
  return k;
}

// Runs an affine kernel on x = 0, 1, ..., n-1 and checks x * c + 1.
bool affine_ok(const CpuKernel& k, int64_t n, float c) {
  std::vector<float> x(n), out(n, -1);
  for (int64_t i = 0; i < n; ++i) x[i] = static_cast<float>(i);
  void* bufs[] = {x.data(), out.data()};
  k.run(bufs, 0, n);
  for (int64_t i = 0; i < n; ++i) {
    if (out[i] != x[i] * c + 1) return false;
  }
  return true;
}

// Runs a softmax kernel and compares with a double-precision reference.
bool softmax_ok(const CpuKernel& k, int64_t R, int64_t C) {
  std::vector<float> x(R * C), out(R * C);
  for (int64_t i = 0; i < R * C; ++i) x[i] = static_cast<float>(std::sin(0.37 * i) * 4);
  void* bufs[] = {x.data(), out.data()};
  k.run(bufs, 0, R);
  for (int64_t r = 0; r < R; ++r) {
    double m = -INFINITY, s = 0;
    for (int64_t j = 0; j < C; ++j) m = std::max(m, double(x[r * C + j]));
    for (int64_t j = 0; j < C; ++j) s += std::exp(x[r * C + j] - m);
    for (int64_t j = 0; j < C; ++j) {
      double want = std::exp(x[r * C + j] - m) / s;
      if (std::abs(out[r * C + j] - want) > 1e-6 + 1e-5 * want) return false;
    }
  }
  return true;
}

bool have_cuda() {
  return std::filesystem::exists("/usr/local/cuda/bin/ptxas") || std::getenv("CUDA_HOME");
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}
void spit(const fs::path& p, const std::string& bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << bytes;
}

int count_files(const fs::path& dir, const std::string& needle) {
  int n = 0;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (e.path().filename().string().find(needle) != std::string::npos) ++n;
  }
  return n;
}

}  // namespace

TEST_CASE("codegen cache: hash ignores the name, not target, options or salt", "[cache]") {
  Kernel a = softmax_kernel(4, 8);
  Kernel b = a;
  b.name = "another_name";
  KernelHash h = kernel_hash(a, Target::Cpu, {});
  CHECK(kernel_hash(b, Target::Cpu, {}) == h);
  CHECK(kernel_hash(a, Target::Cpu, {}) == h);  // deterministic
  CHECK(h.hex().size() == 32);
  CHECK(h.hex().find_first_not_of("0123456789abcdef") == std::string::npos);
  std::set<std::string> seen{h.hex()};
  seen.insert(kernel_hash(a, Target::Sm80, {}).hex());
  seen.insert(kernel_hash(a, Target::Sm90, {}).hex());
  seen.insert(kernel_hash(a, Target::Cpu, {true}).hex());
  seen.insert(kernel_hash(a, Target::Cpu, {}, "host-a").hex());
  seen.insert(kernel_hash(a, Target::Cpu, {}, "host-b").hex());
  CHECK(seen.size() == 6);
  // The CPU key includes the host; the CUDA keys do not.
  CHECK(KernelCache::key(a, Target::Cpu, {}) == kernel_hash(a, Target::Cpu, {}, cpu_host_id()));
  CHECK(KernelCache::key(a, Target::Sm90, {}) == kernel_hash(a, Target::Sm90, {}));
  CHECK(kernel_entry_name(h) == "mfx_" + h.hex());
}

TEST_CASE("codegen cache: every single-field mutation changes the hash", "[cache]") {
  const Kernel base = softmax_kernel(4, 8);
  // The base has a const 0 (index) and exprs of each kind used below.
  using Mutation = std::pair<const char*, std::function<void(Kernel&)>>;
  auto expr = [](Kernel& k, int phase, ExprKind kind) -> Expr& {
    for (auto& e : k.phases[phase].exprs)
      if (e.kind == kind) return e;
    FAIL("no such expression");
    throw;
  };
  // The index constant 0 of phase 2 (its load_local index).
  auto zero = [](Kernel& k) -> Expr& {
    for (auto& e : k.phases[2].exprs)
      if (e.kind == ExprKind::Const && e.value == 0 && !std::signbit(e.value)) return e;
    FAIL("no constant 0");
    throw;
  };
  std::vector<Mutation> mutations = {
      {"arg dtype", [](Kernel& k) { k.args[0].dtype = float16; }},
      {"arg size", [](Kernel& k) { k.args[0].size += 1; }},
      {"arg output flag", [](Kernel& k) { k.args[0].output = true; }},
      {"extra arg",
       [](Kernel& k) {
         k.args.push_back({float32, 1, true});
       }},
      {"grid extent", [](Kernel& k) { k.grid[0] = 5; }},
      {"grid rank", [](Kernel& k) { k.grid.push_back(1); }},
      {"local dtype", [](Kernel& k) { k.locals[1].dtype = float64; }},
      {"local shape",
       [](Kernel& k) {
         k.locals[1].shape = {1, 1};
       }},
      {"extra local",
       [](Kernel& k) {
         k.locals.push_back({float32, {1}});
       }},
      {"phase kind", [](Kernel& k) { k.phases[2].kind = PhaseKind::Reduce; }},
      {"phase domain", [](Kernel& k) { k.phases[2].domain = {9}; }},
      {"reduced axes", [](Kernel& k) { k.phases[0].reduced_axes = {}; }},
      {"phase order", [](Kernel& k) { std::swap(k.phases[0], k.phases[1]); }},
      {"extra phase", [](Kernel& k) { k.phases.push_back(Phase{}); }},
      {"expr kind",
       [&](Kernel& k) { expr(k, 2, ExprKind::GridIndex).kind = ExprKind::DomainIndex; }},
      {"expr dtype", [&](Kernel& k) { expr(k, 2, ExprKind::Load).dtype = float64; }},
      {"expr operand", [&](Kernel& k) { expr(k, 2, ExprKind::Unary).operands[0] -= 1; }},
      {"extra operand", [&](Kernel& k) { expr(k, 2, ExprKind::Unary).operands.push_back(0); }},
      {"const value", [&](Kernel& k) { zero(k).value = 1; }},
      {"const last bit", [&](Kernel& k) { zero(k).value = std::nextafter(0.0, 1.0); }},
      {"const -0", [&](Kernel& k) { zero(k).value = -0.0; }},
      {"axis", [&](Kernel& k) { expr(k, 2, ExprKind::GridIndex).axis = 1; }},
      {"load arg", [&](Kernel& k) { expr(k, 2, ExprKind::Load).arg = 1; }},
      {"load local", [&](Kernel& k) { expr(k, 2, ExprKind::LoadLocal).local = 1; }},
      {"unary op", [&](Kernel& k) { expr(k, 2, ExprKind::Unary).unary_op = UnaryOp::Log; }},
      {"binary op",
       [&](Kernel& k) { expr(k, 2, ExprKind::Binary).binary_op = BinaryOp::Subtract; }},
      {"extra expr", [](Kernel& k) { k.phases[2].exprs.push_back(k.phases[2].exprs[0]); }},
      {"store arg", [](Kernel& k) { k.phases[2].stores[0].arg = 0; }},
      {"store index", [](Kernel& k) { k.phases[2].stores[0].index += 1; }},
      {"store value", [](Kernel& k) { k.phases[2].stores[0].value -= 1; }},
      {"extra store", [](Kernel& k) { k.phases[2].stores.push_back(k.phases[2].stores[0]); }},
      {"materialize",
       [](Kernel& k) {
         k.phases[2].materializations.push_back({0, 1});
       }},
      {"materialize local",
       [](Kernel& k) {
         k.phases[2].materializations.push_back({0, 1});
         k.phases[2].materializations[0].local = 1;
       }},
      {"reduction op", [](Kernel& k) { k.phases[0].reductions[0].op = ReduceOp::Min; }},
      {"reduction local", [](Kernel& k) { k.phases[0].reductions[0].local = 1; }},
      {"reduction value", [](Kernel& k) { k.phases[0].reductions[0].value -= 1; }},
      {"move reduction",
       [](Kernel& k) {
         k.phases[1].reductions.push_back(k.phases[0].reductions[0]);
         k.phases[0].reductions.clear();
       }},
  };
  std::set<std::string> seen{kernel_hash(base, Target::Cpu, {}).hex()};
  for (const auto& [what, mutate] : mutations) {
    INFO(what);
    Kernel k = base;
    mutate(k);
    std::string h = kernel_hash(k, Target::Cpu, {}).hex();
    CHECK(seen.insert(h).second);  // differs from the base and every other mutation
  }
}

TEST_CASE("codegen cache: memory hits return the same object", "[cache]") {
  KernelCache cache("");
  CHECK(cache.dir().empty());
  Kernel k = affine_kernel(64, 3);
  auto a = cache.cpu(k);
  auto b = cache.cpu(k);
  CHECK(a.get() == b.get());
  Kernel renamed = affine_kernel(64, 3, "other_name");
  CHECK(cache.cpu(renamed).get() == a.get());
  CHECK(a->mlir().find(kernel_entry_name(KernelCache::key(k, Target::Cpu, {}))) !=
        std::string::npos);
  CHECK(affine_ok(*a, 64, 3));
  auto st = cache.stats();
  CHECK(st.compiles == 1);
  CHECK(st.memory_hits == 2);
  CHECK(st.disk_hits == 0);
  CHECK(st.compile_seconds > 0);
  // A different constant, size or option is a different kernel.
  CHECK(cache.cpu(affine_kernel(64, 4)).get() != a.get());
  CHECK(cache.cpu(affine_kernel(65, 3)).get() != a.get());
  CHECK(cache.cpu(k, {true}).get() != a.get());
  CHECK(cache.stats().compiles == 4);
  // clear_memory forgets; handed-out kernels stay usable.
  cache.clear_memory();
  auto c = cache.cpu(k);
  CHECK(c.get() != a.get());
  CHECK(cache.stats().compiles == 5);
  CHECK(affine_ok(*a, 64, 3));
  CHECK(affine_ok(*c, 64, 3));
}

TEST_CASE("codegen cache: a fresh cache gets a disk hit that runs", "[cache]") {
  TempDir dir;
  const int64_t R = 16, C = 300;
  Kernel k = softmax_kernel(R, C);
  double compile_s = 0, disk_s = 0;
  std::string mlir, lowered;
  {
    KernelCache first(dir.str());
    auto ck = first.cpu(k, {true});
    CHECK(softmax_ok(*ck, R, C));
    compile_s = first.stats().compile_seconds;
    mlir = ck->mlir();
    lowered = ck->lowered_mlir();
    fs::path entry = first.entry_dir(KernelCache::key(k, Target::Cpu, {true}));
    CHECK(entry.parent_path() == dir.path / "kernels");
    for (const char* f : {"meta.json", "kernel.o", "kernel.mlir", "lowered.mlir"}) {
      INFO(f);
      CHECK(fs::file_size(entry / f) > 0);
    }
    CHECK(slurp(entry / "kernel.o").substr(0, 4) ==
          "\x7f"
          "ELF");
    CHECK(slurp(entry / "kernel.mlir") == mlir);
    std::string meta = slurp(entry / "meta.json");
    CHECK(meta.find("\"host\"") != std::string::npos);
    CHECK(meta.find("phase 2 map") != std::string::npos);  // the kernel's to_string
    CHECK(count_files(dir.path, ".tmp.") == 0);
  }
  KernelCache second(dir.str());
  Kernel renamed = k;
  renamed.name = "softmax_again";
  auto ck = second.cpu(renamed, {true});
  auto st = second.stats();
  CHECK(st.disk_hits == 1);
  CHECK(st.compiles == 0);
  CHECK(st.disk_rejects == 0);
  disk_s = st.disk_seconds;
  CHECK(softmax_ok(*ck, R, C));
  CHECK(ck->mlir() == mlir);
  CHECK(ck->lowered_mlir() == lowered);
  CHECK(second.cpu(k, {true}).get() == ck.get());
  // Exact numerics are another entry.
  second.cpu(k, {false});
  CHECK(second.stats().compiles == 1);
  CHECK(std::distance(fs::directory_iterator(dir.path / "kernels"), fs::directory_iterator()) == 2);
  WARN("softmax " << R << "x" << C << " CPU: compile " << compile_s * 1e3 << " ms, disk hit "
                  << disk_s * 1e3 << " ms");
}

TEST_CASE("codegen cache: corrupt entries are recompiled", "[cache]") {
  TempDir dir;
  Kernel k = affine_kernel(32, 5);
  fs::path entry = KernelCache(dir.str()).entry_dir(KernelCache::key(k, Target::Cpu, {}));
  std::string good_meta;
  {
    KernelCache c(dir.str());
    c.cpu(k);
    good_meta = slurp(entry / "meta.json");
  }
  // Replaces kernel.o and fixes its record in meta.json, so that only the
  // object loader can notice.
  auto fake_object = [&](const std::string& bytes) {
    spit(entry / "kernel.o", bytes);
    auto meta = nlohmann::json::parse(slurp(entry / "meta.json"));
    meta["files"]["kernel.o"]["size"] = bytes.size();
    meta["files"]["kernel.o"]["fnv1a64"] = fmt::format("{:016x}", fnv1a64(bytes));
    spit(entry / "meta.json", meta.dump());
  };
  std::vector<std::pair<const char*, std::function<void()>>> corruptions = {
      {"truncated object",
       [&] {
         std::string o = slurp(entry / "kernel.o");
         spit(entry / "kernel.o", o.substr(0, o.size() / 2));
       }},
      {"garbled object byte",
       [&] {
         std::string o = slurp(entry / "kernel.o");
         o[o.size() / 2] ^= 0x5a;
         spit(entry / "kernel.o", o);
       }},
      {"object missing", [&] { fs::remove(entry / "kernel.o"); }},
      {"mlir missing", [&] { fs::remove(entry / "lowered.mlir"); }},
      {"empty meta", [&] { spit(entry / "meta.json", ""); }},
      {"truncated meta", [&] { spit(entry / "meta.json", good_meta.substr(0, 40)); }},
      {"meta not an object", [&] { spit(entry / "meta.json", "[1, 2, 3]"); }},
      {"meta of wrong types",
       [&] {
         auto meta = nlohmann::json::parse(good_meta);
         meta["files"] = 3;
         spit(entry / "meta.json", meta.dump());
       }},
      {"meta of another format",
       [&] {
         auto meta = nlohmann::json::parse(good_meta);
         meta["format"] = kKernelHashVersion + 1;
         spit(entry / "meta.json", meta.dump());
       }},
      {"meta of another kernel",
       [&] {
         auto meta = nlohmann::json::parse(good_meta);
         meta["kernel"] = "kernel x";
         spit(entry / "meta.json", meta.dump());
       }},
      {"meta of another host",
       [&] {
         auto meta = nlohmann::json::parse(good_meta);
         meta["host"] = "some other cpu";
         spit(entry / "meta.json", meta.dump());
       }},
      {"object not ELF", [&] { fake_object("definitely not an object file"); }},
      {"ELF header only", [&] { fake_object(slurp(entry / "kernel.o").substr(0, 64)); }},
  };
  for (const auto& [what, corrupt] : corruptions) {
    INFO(what);
    corrupt();
    KernelCache c(dir.str());
    auto ck = c.cpu(k);
    CHECK(affine_ok(*ck, 32, 5));
    auto st = c.stats();
    CHECK(st.compiles == 1);
    CHECK(st.disk_hits == 0);
    CHECK(st.disk_rejects == 1);
    // The rewritten entry is valid again.
    KernelCache again(dir.str());
    CHECK(affine_ok(*again.cpu(k), 32, 5));
    CHECK(again.stats().disk_hits == 1);
  }
  // A half-written entry (files without meta.json) is a plain miss.
  fs::remove(entry / "meta.json");
  KernelCache c(dir.str());
  c.cpu(k);
  CHECK(c.stats().compiles == 1);
  CHECK(c.stats().disk_rejects == 0);
}

TEST_CASE("codegen cache: four threads compile each kernel once", "[cache]") {
  TempDir dir;
  KernelCache cache(dir.str());
  std::vector<Kernel> kernels = {affine_kernel(40, 2), affine_kernel(40, 7)};
  std::vector<std::shared_ptr<const CpuKernel>> got(8);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      // Half the threads ask in the other order.
      for (int j = 0; j < 2; ++j) {
        int which = (t % 2 == 0) ? j : 1 - j;
        got[t * 2 + which] = cache.cpu(kernels[which]);
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < 4; ++t) {
    CHECK(got[t * 2].get() == got[0].get());
    CHECK(got[t * 2 + 1].get() == got[1].get());
  }
  CHECK(got[0].get() != got[1].get());
  auto st = cache.stats();
  CHECK(st.compiles == 2);
  CHECK(st.memory_hits == 6);
  CHECK(affine_ok(*got[0], 40, 2));
  CHECK(affine_ok(*got[1], 40, 7));
  CHECK(count_files(dir.path, ".tmp.") == 0);
}

TEST_CASE("codegen cache: two processes writing one entry leave a valid entry", "[cache]") {
  TempDir dir;
  Kernel k = softmax_kernel(8, 64);
  const bool cuda = have_cuda();
  int go[2];
  REQUIRE(::pipe(go) == 0);
  std::vector<pid_t> children;
  for (int c = 0; c < 2; ++c) {
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      // Both children start together on the empty directory.
      ::close(go[1]);
      char byte;
      (void)!::read(go[0], &byte, 1);
      bool ok = false;
      try {
        KernelCache cache(dir.str());
        ok = softmax_ok(*cache.cpu(k), 8, 64);
        if (cuda) ok = ok && !cache.ptx(k, Target::Sm90)->ptx.empty();
      } catch (...) {
        ok = false;
      }
      ::_exit(ok ? 0 : 1);
    }
    children.push_back(pid);
  }
  ::close(go[0]);
  ::close(go[1]);  // releases both children
  for (pid_t pid : children) {
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
  }
  KernelCache cache(dir.str());
  CHECK(softmax_ok(*cache.cpu(k), 8, 64));
  if (cuda) cache.ptx(k, Target::Sm90);
  auto st = cache.stats();
  CHECK(st.disk_hits == (cuda ? 2 : 1));
  CHECK(st.compiles == 0);
  CHECK(count_files(dir.path, ".tmp.") == 0);
}

TEST_CASE("codegen cache: PTX entries keep the text and launch config", "[cache][ptx]") {
  if (!have_cuda()) {
    WARN("no CUDA toolkit: PTX cache not tested");
    return;
  }
  TempDir dir;
  Kernel k = softmax_kernel(8, 256);
  std::shared_ptr<const PtxKernel> first;
  {
    KernelCache cache(dir.str());
    first = cache.ptx(k, Target::Sm90, {true});
    CHECK(cache.ptx(k, Target::Sm90, {true}).get() == first.get());
    CHECK(cache.ptx(k, Target::Sm80, {true}).get() != first.get());
    CHECK(cache.stats().compiles == 2);
    CHECK(first->entry == kernel_entry_name(KernelCache::key(k, Target::Sm90, {true})));
    CHECK(first->ptx.find(".entry " + first->entry) != std::string::npos);
    fs::path entry = cache.entry_dir(KernelCache::key(k, Target::Sm90, {true}));
    CHECK(slurp(entry / "kernel.ptx") == first->ptx);
    auto meta = nlohmann::json::parse(slurp(entry / "meta.json"));
    CHECK(meta["block_threads"] == first->block_threads);
    CHECK(meta["grid_blocks"] == first->grid_blocks);
    CHECK(meta["shared_bytes"] == first->shared_bytes);
    CHECK(meta["entry"] == first->entry);
    CHECK(meta["target"] == "sm_90");
  }
  KernelCache cache(dir.str());
  auto hit = cache.ptx(k, Target::Sm90, {true});
  CHECK(cache.stats().disk_hits == 1);
  CHECK(cache.stats().compiles == 0);
  CHECK(hit->ptx == first->ptx);
  CHECK(hit->mlir == first->mlir);
  CHECK(hit->entry == first->entry);
  CHECK(hit->block_threads == first->block_threads);
  CHECK(hit->grid_blocks == first->grid_blocks);
  CHECK(hit->shared_bytes == first->shared_bytes);
  CHECK_NOTHROW(run_ptxas(hit->ptx, Target::Sm90));

  // A garbled launch config or PTX text: compiled again.
  fs::path entry = cache.entry_dir(KernelCache::key(k, Target::Sm90, {true}));
  auto meta = nlohmann::json::parse(slurp(entry / "meta.json"));
  meta["block_threads"] = "many";
  spit(entry / "meta.json", meta.dump());
  KernelCache c2(dir.str());
  CHECK(c2.ptx(k, Target::Sm90, {true})->ptx == first->ptx);
  CHECK(c2.stats().disk_rejects == 1);
  std::string ptx = slurp(entry / "kernel.ptx");
  spit(entry / "kernel.ptx", ptx.substr(0, ptx.size() - 10));
  KernelCache c3(dir.str());
  CHECK(c3.ptx(k, Target::Sm90, {true})->ptx == first->ptx);
  CHECK(c3.stats().disk_rejects == 1);
  CHECK(c3.stats().compiles == 1);
}

TEST_CASE("codegen cache: errors and the default directory", "[cache]") {
  KernelCache cache("");
  CHECK_THROWS_AS(cache.ptx(affine_kernel(4, 1), Target::Cpu), std::invalid_argument);
  // An invalid kernel throws each time and is not cached.
  Kernel bad = affine_kernel(4, 1);
  bad.phases[0].stores[0].value = 99;
  CHECK_THROWS_AS(cache.cpu(bad), std::logic_error);
  CHECK_THROWS_AS(cache.cpu(bad), std::logic_error);
  CHECK(cache.stats().compiles == 0);

  // An unwritable directory degrades to memory-only.
  TempDir dir;
  spit(dir.path / "file", "x");
  KernelCache blocked((dir.path / "file").string());
  CHECK(affine_ok(*blocked.cpu(affine_kernel(8, 2)), 8, 2));
  CHECK(blocked.stats().compiles == 1);

  auto env = [](const char* name) -> std::optional<std::string> {
    const char* v = std::getenv(name);
    return v ? std::optional<std::string>(v) : std::nullopt;
  };
  auto saved_dir = env("MFX_CACHE_DIR"), saved_xdg = env("XDG_CACHE_HOME"),
       saved_home = env("HOME");
  ::setenv("MFX_CACHE_DIR", "/some/where", 1);
  CHECK(KernelCache::default_dir() == "/some/where");
  ::setenv("MFX_CACHE_DIR", "off", 1);
  CHECK(KernelCache::default_dir() == "");
  ::setenv("MFX_CACHE_DIR", "", 1);
  CHECK(KernelCache::default_dir() == "");
  ::unsetenv("MFX_CACHE_DIR");
  ::setenv("XDG_CACHE_HOME", "/xdg", 1);
  ::setenv("HOME", "/home/u", 1);
  CHECK(KernelCache::default_dir() == "/xdg/mfx");
  ::unsetenv("XDG_CACHE_HOME");
  CHECK(KernelCache::default_dir() == "/home/u/.cache/mfx");
  ::unsetenv("HOME");
  CHECK(KernelCache::default_dir() == "");
  auto restore = [](const char* name, const std::optional<std::string>& v) {
    if (v)
      ::setenv(name, v->c_str(), 1);
    else
      ::unsetenv(name);
  };
  restore("MFX_CACHE_DIR", saved_dir);
  restore("XDG_CACHE_HOME", saved_xdg);
  restore("HOME", saved_home);
}

namespace {

int64_t bytes_under(const fs::path& dir) {
  int64_t n = 0;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (e.is_regular_file()) n += static_cast<int64_t>(e.file_size());
  }
  return n;
}

bool on_disk(const KernelCache& cache, const Kernel& k) {
  return fs::exists(fs::path(cache.entry_dir(KernelCache::key(k, Target::Cpu, {}))) /
                    "meta.json");
}

}  // namespace

TEST_CASE("codegen cache: the folder stays under its bound, least recently used out first",
          "[cache]") {
  TempDir dir;
  const std::vector<Kernel> ks{affine_kernel(64, 1), affine_kernel(64, 2), affine_kernel(64, 3),
                               affine_kernel(64, 4)};
  int64_t entry = 0;  // the largest entry's bytes
  {
    TempDir probe;
    KernelCache sizes(probe.str());
    for (const auto& k : ks) {
      const int64_t before = bytes_under(probe.path);
      sizes.cpu(k);
      entry = std::max(entry, bytes_under(probe.path) - before);
    }
  }
  REQUIRE(entry > 0);
  // Room for three entries: the fourth evicts down to 3/4 of the bound, two entries.
  const int64_t bound = entry * 7 / 2;
  KernelCache cache(dir.str(), bound);
  for (int i = 0; i < 3; ++i) cache.cpu(ks[i]);
  CHECK(cache.stats().disk_evictions == 0);
  // Another process's disk hit on the first kernel makes it the most recently used.
  KernelCache reader(dir.str(), bound);
  CHECK(affine_ok(*reader.cpu(ks[0]), 64, 1));
  CHECK(reader.stats().disk_hits == 1);
  cache.cpu(ks[3]);
  CHECK(cache.stats().disk_evictions == 2);
  CHECK(bytes_under(dir.path) <= bound);
  CHECK(on_disk(cache, ks[0]));
  CHECK_FALSE(on_disk(cache, ks[1]));
  CHECK_FALSE(on_disk(cache, ks[2]));
  CHECK(on_disk(cache, ks[3]));
  // An evicted kernel still runs from memory, and a fresh cache compiles it
  // again: a missing entry, not a rejected one.
  CHECK(affine_ok(*cache.cpu(ks[1]), 64, 2));
  KernelCache fresh(dir.str(), bound);
  CHECK(affine_ok(*fresh.cpu(ks[1]), 64, 2));
  CHECK(fresh.stats().compiles == 1);
  CHECK(fresh.stats().disk_rejects == 0);
  // <dir>/bytes keeps the count (no process walks the folder per write); a
  // garbled count is measured again.
  CHECK(std::stoll(slurp(dir.path / "bytes")) == bytes_under(dir.path / "kernels"));
  spit(dir.path / "bytes", "garbled");
  fresh.cpu(affine_kernel(64, 5));
  CHECK(std::stoll(slurp(dir.path / "bytes")) == bytes_under(dir.path / "kernels"));
}

TEST_CASE("codegen cache: the bound from MFX_CACHE_MAX_BYTES", "[cache]") {
  CHECK_THROWS_AS(KernelCache("", 0), std::invalid_argument);
  const char* saved = std::getenv("MFX_CACHE_MAX_BYTES");
  const std::optional<std::string> keep = saved ? std::optional<std::string>(saved) : std::nullopt;
  ::unsetenv("MFX_CACHE_MAX_BYTES");
  CHECK(KernelCache::default_max_bytes() == int64_t{2} << 30);
  ::setenv("MFX_CACHE_MAX_BYTES", "123456", 1);
  CHECK(KernelCache::default_max_bytes() == 123456);
  ::setenv("MFX_CACHE_MAX_BYTES", "500M", 1);
  CHECK(KernelCache::default_max_bytes() == int64_t{500} << 20);
  ::setenv("MFX_CACHE_MAX_BYTES", "3G", 1);
  CHECK(KernelCache::default_max_bytes() == int64_t{3} << 30);
  ::setenv("MFX_CACHE_MAX_BYTES", "64k", 1);
  CHECK(KernelCache::default_max_bytes() == 64 << 10);
  for (const char* bad : {"", "0", "-5", "5T", "1.5G", "G", "99999999999999999999", "2000000G"}) {
    ::setenv("MFX_CACHE_MAX_BYTES", bad, 1);
    CHECK_THROWS_WITH(KernelCache::default_max_bytes(),
                      Catch::Matchers::Contains("MFX_CACHE_MAX_BYTES"));
  }
  if (keep)
    ::setenv("MFX_CACHE_MAX_BYTES", keep->c_str(), 1);
  else
    ::unsetenv("MFX_CACHE_MAX_BYTES");
}
