// The fusion report for people: summary.txt opens with an overview of at
// most 40 lines, graph.html draws one SVG node per launched step (views
// folded away) with the values between them on the edges.
#include <fmt/format.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "compiler/jit/report_view.h"
#include "mfx/jit.h"
#include "test_utils.h"

using namespace mfx;
namespace fs = std::filesystem;

namespace {

std::string read(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

int count(const std::string& text, const std::string& what) {
  int n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

// softmax, a matmul (a library call), a transpose (a view) and a reduction:
// fused kernels on both sides of the library call.
JitFunction written_report(const fs::path& dir) {
  auto jf = jit(
      [](const std::vector<array>& a) {
        array p = softmax(a[0] * 2.0f, -1);
        array y = matmul(p, transpose(a[1]));
        return std::vector<array>{sum(exp(y), -1), y};
      },
      {.name = "report_view"});
  jf({random::normal(random::key(0), {8, 16}), random::normal(random::key(1), {4, 16})});
  jf.write_report(dir.string());
  return jf;
}

}  // namespace

TEST_CASE("graph.html draws one node per launch and folds views", "[jit][report]") {
  const fs::path dir = fs::temp_directory_path() / fmt::format("mfx_report_view_{}", ::getpid());
  const JitFunction jf = written_report(dir);
  const auto j = nlohmann::json::parse(read(dir / "report.json"));
  int launches = 0, views = 0, fused = 0;
  for (auto& k : j["kernels"]) {
    launches += k["kind"] != "view";
    views += k["kind"] == "view";
    fused += k["kind"] == "fused";
  }
  REQUIRE(views >= 1);
  REQUIRE(fused >= 2);
  CHECK(launches == jf.stats().kernels);

  const std::string html = read(dir / "graph.html");
  CHECK(html.rfind("<!doctype html>", 0) == 0);
  CHECK(count(html, "<svg") == 1);
  CHECK(count(html, "<g class=\"kernel") == launches);
  CHECK(count(html, "<g class=\"kernel library\"") == launches - fused);
  // Kernels on both sides of the matmul: at least one edge, each with bytes.
  const int edges = count(html, "<g class=\"edge\"");
  CHECK(edges >= 2);
  CHECK(count(html, " B</text></g>") + count(html, " kB</text></g>") +
            count(html, " MB</text></g>") ==
        edges);
  // The views stay in the step list, not in the drawing.
  const std::string svg = html.substr(html.find("<svg"), html.find("</svg>") - html.find("<svg"));
  CHECK(svg.find("Transpose ·") == std::string::npos);
  CHECK(html.find("VIEW_NO_KERNEL") != std::string::npos);
  // Links to every fused kernel's IR, which write_report wrote.
  for (auto& k : j["kernels"]) {
    if (k["kind"] != "fused") continue;
    const std::string name = k["name"];
    CHECK(html.find("kernels/" + name + ".kir") != std::string::npos);
    CHECK(fs::exists(dir / "kernels" / (name + ".kir")));
  }
  fs::remove_all(dir);
}

TEST_CASE("summary.txt opens with an overview of at most 40 lines", "[jit][report]") {
  const fs::path dir = fs::temp_directory_path() / fmt::format("mfx_report_sum_{}", ::getpid());
  const JitFunction jf = written_report(dir);
  const std::string summary = read(dir / "summary.txt");
  const size_t listing = summary.find("\nall steps:\n");
  REQUIRE(listing != std::string::npos);
  const std::string head = summary.substr(0, listing);
  CHECK(count(head, "\n") + 1 <= 40);
  CHECK(head.find(fmt::format("{} launches per call", jf.stats().kernels)) != std::string::npos);
  CHECK(head.find("host syncs") != std::string::npos);
  CHECK(head.find("costliest steps") != std::string::npos);
  CHECK(head.find("values written between steps, by reason:") != std::string::npos);
  CHECK(head.find("OPAQUE_OP") != std::string::npos);  // the matmul
  fs::remove_all(dir);
}

TEST_CASE("the overview stays within 40 lines for many kernels and reasons", "[jit][report]") {
  // A synthetic report: 50 fused kernels, 30 library calls, 12 split reasons.
  nlohmann::json r{{"function", "big"}, {"plan_for_gpu", true}};
  r["kernels"] = nlohmann::json::array();
  r["materialized"] = nlohmann::json::array();
  for (int i = 0; i < 80; ++i) {
    const bool fused = i < 50;
    nlohmann::json k{{"kind", fused ? "fused" : "primitive"},
                     {"name", fmt::format("k{}", i)},
                     {"source_ops", {"Add", "Add", "Exp"}},
                     {"inputs", {{{"value", i}, {"bytes", 4}, {"shape", {1}}}}},
                     {"outputs", {{{"value", i + 1}, {"bytes", 4 * (i + 1)}, {"shape", {i + 1}}}}},
                     {"modelled_bytes", 1000 * (i + 1)},
                     {"modelled_flops", 10 * i}};
    if (!fused) k["reason"] = fmt::format("REASON_{}: detail {}", i % 12, i);
    r["kernels"].push_back(k);
    r["materialized"].push_back({{"value", i + 1}, {"bytes", 8}, {"reason", fmt::format("M_{}", i % 12)}});
  }
  const std::string o = jit_detail::report_overview(r);
  CHECK(count(o, "\n") <= 40);
  CHECK(o.find("80 launches per call (50 fused kernels, 30 library/primitive calls)") !=
        std::string::npos);
  CHECK(o.find("GPU roofline") != std::string::npos);
  // The costliest step is the last (largest modelled bytes); the chain
  // k0 -> k1 -> ... draws 79 edges.
  CHECK(o.find("#79") < o.find("#78"));
  const std::string html = jit_detail::report_html(r);
  CHECK(count(html, "<g class=\"kernel") == 80);
  CHECK(count(html, "<g class=\"edge\"") == 79);
}
