// run_ptxas: assembles PTX with the CUDA toolkit's ptxas and parses `-v`.
#include <fmt/format.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <stdexcept>

#include "compiler/codegen.h"

namespace mfx::compiler {

namespace {

std::string find_ptxas() {
  if (const char* home = std::getenv("CUDA_HOME")) {
    auto p = std::filesystem::path(home) / "bin" / "ptxas";
    if (std::filesystem::exists(p)) return p.string();
  }
  const char* fixed = "/usr/local/cuda/bin/ptxas";
  if (std::filesystem::exists(fixed)) return fixed;
  throw std::runtime_error(
      "[run_ptxas] ptxas not found (set CUDA_HOME or install the CUDA toolkit)");
}

int64_t sum_matches(const std::string& log, const std::regex& re) {
  int64_t total = 0;
  for (auto it = std::sregex_iterator(log.begin(), log.end(), re); it != std::sregex_iterator();
       ++it) {
    total += std::stoll((*it)[1].str());
  }
  return total;
}

}  // namespace

PtxasInfo run_ptxas(const std::string& ptx, Target target) {
  if (target == Target::Cpu) throw std::invalid_argument("[run_ptxas] target cpu has no PTX");
  const std::string ptxas = find_ptxas();
  // A private temp directory: concurrent test runs must not share files.
  std::string tmpl = (std::filesystem::temp_directory_path() / "mfx_ptxas_XXXXXX").string();
  if (!mkdtemp(tmpl.data())) throw std::runtime_error("[run_ptxas] cannot create a temp directory");
  std::filesystem::path dir(tmpl);
  auto cleanup = [&] {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  };
  {
    std::ofstream f(dir / "k.ptx", std::ios::binary);
    f << ptx;
  }
  std::string cmd = fmt::format("'{}' -arch={} -v -o '{}' '{}' 2>&1", ptxas, target_name(target),
                                (dir / "k.cubin").string(), (dir / "k.ptx").string());
  std::string log;
  FILE* pipe = popen(cmd.c_str(), "r");
  if (!pipe) {
    cleanup();
    throw std::runtime_error("[run_ptxas] cannot run " + ptxas);
  }
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, pipe)) > 0) log.append(buf, n);
  int status = pclose(pipe);
  cleanup();
  if (status != 0) {
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    throw std::runtime_error(fmt::format("[run_ptxas] ptxas -arch={} failed (exit {}):\n{}",
                                         target_name(target), code, log));
  }
  PtxasInfo info;
  info.log = log;
  std::smatch m;
  if (std::regex_search(log, m, std::regex(R"(Used (\d+) registers)"))) {
    info.registers = std::stoi(m[1].str());
  }
  info.shared_bytes = sum_matches(log, std::regex(R"((\d+) bytes smem)"));
  info.spill_bytes = sum_matches(log, std::regex(R"((\d+) bytes spill (?:stores|loads))"));
  return info;
}

}  // namespace mfx::compiler
