// CPU back end: lowers the emitted module to the LLVM dialect and JIT-compiles
// it with mlir::ExecutionEngine at O3 without unrolling for the host CPU (its
// TargetMachine, so that LLVM vectorises for the host's vector width).
#include <fmt/format.h>

#include <chrono>
#include <fstream>
#include <iterator>
#include <mutex>
#include <stdexcept>

#include "compiler/mlir/emit.h"
#include "llvm/Config/llvm-config.h"
#include "llvm/ExecutionEngine/Orc/ExecutionUtils.h"
#include "llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h"
#include "llvm/ExecutionEngine/Orc/LLJIT.h"
#include "llvm/ExecutionEngine/Orc/RTDyldObjectLinkingLayer.h"
#include "llvm/ExecutionEngine/SectionMemoryManager.h"
#include "llvm/IR/IRBuilder.h"
#include "llvm/IR/Instructions.h"
#include "llvm/IR/Module.h"
#include "llvm/Passes/PassBuilder.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Process.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Target/TargetMachine.h"
#include "mlir/Conversion/ArithToLLVM/ArithToLLVM.h"
#include "mlir/Conversion/ControlFlowToLLVM/ControlFlowToLLVM.h"
#include "mlir/Conversion/FuncToLLVM/ConvertFuncToLLVMPass.h"
#include "mlir/Conversion/MathToLLVM/MathToLLVM.h"
#include "mlir/Conversion/MemRefToLLVM/MemRefToLLVM.h"
#include "mlir/Conversion/Passes.h"
#include "mlir/Conversion/ReconcileUnrealizedCasts/ReconcileUnrealizedCasts.h"
#include "mlir/Conversion/SCFToControlFlow/SCFToControlFlow.h"
#include "mlir/Dialect/MemRef/Transforms/Passes.h"
#include "mlir/ExecutionEngine/ExecutionEngine.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Transforms/Passes.h"

namespace mfx::compiler {

namespace {

using namespace mlir;

void init_llvm() {
  static std::once_flag once;
  std::call_once(once, [] {
    llvm::InitializeNativeTarget();
    llvm::InitializeNativeTargetAsmPrinter();
  });
}

void lower_to_llvm(ModuleOp module, const std::string& name) {
  PassManager pm(module->getContext());
  pm.addPass(createConvertSCFToCFPass());
  pm.addPass(createArithToLLVMConversionPass());
  pm.addPass(createConvertMathToLLVMPass());
  pm.addPass(memref::createExpandStridedMetadataPass());
  pm.addPass(createFinalizeMemRefToLLVMConversionPass());
  ConvertFuncToLLVMPassOptions func_opts;
  func_opts.useBarePtrCallConv = true;  // static shapes: one pointer per buffer
  pm.addPass(createConvertFuncToLLVMPass(func_opts));
  pm.addPass(createConvertControlFlowToLLVMPass());
  pm.addPass(createArithToLLVMConversionPass());
  pm.addPass(createReconcileUnrealizedCastsPass());
  pm.addPass(createCanonicalizerPass());
  if (failed(pm.run(module))) {
    throw std::runtime_error(fmt::format("[compile_cpu] kernel '{}': lowering to LLVM failed:\n{}",
                                         name, detail::print(module)));
  }
}

// `agg` (a memref descriptor) at field `index`; through selects of whole
// descriptors, a select of the fields, made before `at`.
llvm::Value* field_of(llvm::Value* agg, llvm::ArrayRef<unsigned> index, llvm::Instruction* at) {
  if (auto* s = llvm::dyn_cast<llvm::SelectInst>(agg)) {
    llvm::Value* t = field_of(s->getTrueValue(), index, s);
    llvm::Value* f = field_of(s->getFalseValue(), index, s);
    return llvm::IRBuilder<>(s).CreateSelect(s->getCondition(), t, f);
  }
  return llvm::IRBuilder<>(at).CreateExtractValue(agg, index);
}

// A load or store that picks its buffer (Expr::choices) selects among memref
// descriptors, and LLVM keeps those selects of whole structs: alias analysis
// cannot see through the extractvalue of one, so a loop that reads one picked
// buffer and writes another was neither vectorised nor hoisted (a rolled
// kernel ran 40 % slower). Selecting the pointers themselves lets it see
// that every choice is a distinct noalias argument.
void select_descriptor_fields(llvm::Module& module) {
  for (llvm::Function& fn : module) {
    std::vector<llvm::ExtractValueInst*> picked;
    for (llvm::BasicBlock& bb : fn) {
      for (llvm::Instruction& inst : bb) {
        auto* ev = llvm::dyn_cast<llvm::ExtractValueInst>(&inst);
        if (ev && llvm::isa<llvm::SelectInst>(ev->getAggregateOperand())) picked.push_back(ev);
      }
    }
    for (llvm::ExtractValueInst* ev : picked) {
      ev->replaceAllUsesWith(field_of(ev->getAggregateOperand(), ev->getIndices(), ev));
      ev->eraseFromParent();
    }
  }
}

// LLVM's O3 pipeline without loop unrolling. Kernels have static shapes, so
// at O3 LLVM fully unrolls every short loop (a ground-truth axis of 8, the 4
// box coordinates) and nests of them explode: the match-free step with M = 8
// compiled for 17 s instead of 4. Vectorisation and interleaving (several
// accumulators per reduction) stay; runtime moved by 0-7 % (docs/results.md
// §8).
std::function<llvm::Error(llvm::Module*)> optimizer(llvm::TargetMachine* tm,
                                                    std::string* optimized_ir) {
  return [tm, optimized_ir](llvm::Module* module) -> llvm::Error {
    llvm::LoopAnalysisManager lam;
    llvm::FunctionAnalysisManager fam;
    llvm::CGSCCAnalysisManager cgam;
    llvm::ModuleAnalysisManager mam;
    llvm::PipelineTuningOptions tuning;
    tuning.LoopUnrolling = false;
    tuning.LoopInterleaving = true;
    tuning.LoopVectorization = true;
    tuning.SLPVectorization = true;
    llvm::PassBuilder pb(tm, tuning);
    pb.registerModuleAnalyses(mam);
    pb.registerCGSCCAnalyses(cgam);
    pb.registerFunctionAnalyses(fam);
    pb.registerLoopAnalyses(lam);
    pb.crossRegisterProxies(lam, fam, cgam, mam);
    llvm::ModulePassManager mpm = pb.buildPerModuleDefaultPipeline(llvm::OptimizationLevel::O3);
    select_descriptor_fields(*module);
    mpm.run(*module, mam);
    if (optimized_ir) {
      llvm::raw_string_ostream os(*optimized_ir);
      module->print(os, nullptr);
    }
    return llvm::Error::success();
  };
}

// `owner` keeps the code alive: an ExecutionEngine (compiled here) or an
// LLJIT (object code loaded from the kernel cache).
class JitKernel : public CpuKernel {
 public:
  JitKernel(std::string mlir, std::string lowered, std::shared_ptr<void> owner, void (*fn)(void**),
            size_t nargs, double seconds)
      : mlir_(std::move(mlir)),
        lowered_(std::move(lowered)),
        owner_(std::move(owner)),
        fn_(fn),
        nargs_(nargs),
        seconds_(seconds) {}

  void run(void* const* buffers, int64_t begin, int64_t end) const override {
    if (begin >= end) return;
    // The packed wrapper takes a pointer to each argument value.
    std::vector<void*> ptrs(nargs_ + 2);
    for (size_t i = 0; i < nargs_; ++i) ptrs[i] = const_cast<void**>(&buffers[i]);
    ptrs[nargs_] = &begin;
    ptrs[nargs_ + 1] = &end;
    fn_(ptrs.data());
  }
  const std::string& mlir() const override { return mlir_; }
  const std::string& lowered_mlir() const override { return lowered_; }
  double compile_seconds() const override { return seconds_; }

 private:
  std::string mlir_, lowered_;
  std::shared_ptr<void> owner_;
  void (*fn_)(void**);
  size_t nargs_;
  double seconds_;
};

// MLIR 19's ExecutionEngine takes no external llvm::ObjectCache; with
// enableObjectDump it keeps the object it compiled and can only write it to a
// file, so go through a temporary file.
std::string dump_object(ExecutionEngine& engine, const std::string& name) {
  llvm::SmallString<128> path;
  int fd = -1;
  if (auto ec = llvm::sys::fs::createTemporaryFile("mfx-kernel", "o", fd, path)) {
    throw std::runtime_error(fmt::format(
        "[compile_cpu] kernel '{}': cannot create a temporary file: {}", name, ec.message()));
  }
  llvm::sys::Process::SafelyCloseFileDescriptor(fd);
  engine.dumpToObjectFile(path);
  std::ifstream in(path.c_str(), std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  in.close();
  llvm::sys::fs::remove(path);
  if (bytes.empty()) {
    throw std::runtime_error(
        fmt::format("[compile_cpu] kernel '{}': the JIT produced no object code", name));
  }
  return bytes;
}

}  // namespace

const std::string& cpu_host_id() {
  static const std::string id = [] {
    auto jtmb = llvm::orc::JITTargetMachineBuilder::detectHost();
    if (!jtmb) {
      llvm::consumeError(jtmb.takeError());
      return std::string("llvm-" LLVM_VERSION_STRING ";unknown-host");
    }
    return fmt::format("llvm-{};{};{};{}", LLVM_VERSION_STRING, jtmb->getTargetTriple().str(),
                       jtmb->getCPU(), jtmb->getFeatures().getString());
  }();
  return id;
}

std::unique_ptr<CpuKernel> compile_cpu(const Kernel& kernel, const CodegenOptions& options,
                                       std::string* object_code, std::string* optimized_ir) {
  auto t0 = std::chrono::steady_clock::now();
  init_llvm();
  auto ctx = detail::make_context();
  auto module = detail::build_module(*ctx, kernel, Target::Cpu, options);
  std::string mlir = detail::print(module->getOperation());
  lower_to_llvm(*module, kernel.name);
  std::string lowered = detail::print(module->getOperation());

  auto tm_builder = llvm::orc::JITTargetMachineBuilder::detectHost();
  if (!tm_builder) {
    throw std::runtime_error("[compile_cpu] cannot detect the host target: " +
                             llvm::toString(tm_builder.takeError()));
  }
  auto tm = tm_builder->createTargetMachine();
  if (!tm) {
    throw std::runtime_error("[compile_cpu] cannot create a target machine: " +
                             llvm::toString(tm.takeError()));
  }
  // eopts.transformer is a function_ref: the function must outlive create().
  const auto transformer = optimizer(tm->get(), optimized_ir);
  ExecutionEngineOptions eopts;
  eopts.transformer = transformer;
  eopts.jitCodeGenOptLevel = llvm::CodeGenOptLevel::Aggressive;
  eopts.enableGDBNotificationListener = false;
  // MFX_JIT_PERF=1: a jitdump for `perf record -k 1` + `perf inject --jit`, which names kernels.
  eopts.enablePerfNotificationListener = std::getenv("MFX_JIT_PERF") != nullptr;
  eopts.enableObjectDump = object_code != nullptr;
  auto engine = ExecutionEngine::create(*module, eopts);
  if (!engine) {
    throw std::runtime_error(fmt::format("[compile_cpu] kernel '{}': JIT failed: {}", kernel.name,
                                         llvm::toString(engine.takeError())));
  }
  // ORC compiles at the first lookup: do it here so compile time is measured
  // and run() stays lock-free.
  auto fn = (*engine)->lookupPacked(kernel.name);
  if (!fn) {
    throw std::runtime_error(fmt::format("[compile_cpu] kernel '{}': symbol lookup failed: {}",
                                         kernel.name, llvm::toString(fn.takeError())));
  }
  if (object_code) *object_code = dump_object(**engine, kernel.name);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return std::make_unique<JitKernel>(std::move(mlir), std::move(lowered),
                                     std::shared_ptr<ExecutionEngine>(std::move(*engine)), *fn,
                                     kernel.args.size(), seconds);
}

std::unique_ptr<CpuKernel> load_cpu_kernel(const std::string& object_code, const std::string& entry,
                                           size_t num_args, std::string mlir,
                                           std::string lowered_mlir) {
  auto t0 = std::chrono::steady_clock::now();
  init_llvm();
  auto fail = [&](llvm::Error err) {
    return std::runtime_error(
        fmt::format("[load_cpu_kernel] kernel '{}': {}", entry, llvm::toString(std::move(err))));
  };
  auto jtmb = llvm::orc::JITTargetMachineBuilder::detectHost();
  if (!jtmb) throw fail(jtmb.takeError());
  // The same linking layer and symbol resolution as mlir::ExecutionEngine, so
  // the object links exactly as it did when it was compiled.
  auto jit = llvm::orc::LLJITBuilder()
                 .setJITTargetMachineBuilder(std::move(*jtmb))
                 .setObjectLinkingLayerCreator(
                     [](llvm::orc::ExecutionSession& session, const llvm::Triple&) {
                       return std::make_unique<llvm::orc::RTDyldObjectLinkingLayer>(
                           session, [] { return std::make_unique<llvm::SectionMemoryManager>(); });
                     })
                 .create();
  if (!jit) throw fail(jit.takeError());
  auto process = llvm::orc::DynamicLibrarySearchGenerator::GetForCurrentProcess(
      (*jit)->getDataLayout().getGlobalPrefix());
  if (!process) throw fail(process.takeError());
  (*jit)->getMainJITDylib().addGenerator(std::move(*process));
  if (auto err = (*jit)->addObjectFile(llvm::MemoryBuffer::getMemBufferCopy(object_code, entry)))
    throw fail(std::move(err));
  // The packed wrapper ExecutionEngine generated ("_mlir_" + name); the lookup
  // links the object now, so run() stays lock-free.
  auto sym = (*jit)->lookup("_mlir_" + entry);
  if (!sym) throw fail(sym.takeError());
  auto fn = sym->toPtr<void (*)(void**)>();
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return std::make_unique<JitKernel>(std::move(mlir), std::move(lowered_mlir),
                                     std::shared_ptr<llvm::orc::LLJIT>(std::move(*jit)), fn,
                                     num_args, seconds);
}

}  // namespace mfx::compiler
