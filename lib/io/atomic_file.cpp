#include "io/atomic_file.h"

#include <dirent.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <random>
#include <stdexcept>
#include <system_error>

namespace mfx::io {

namespace {

std::string error_text(int err) {
  return std::generic_category().message(err);
}

// Directory part of a path ("." when there is none), for the temporary file
// and the directory fsync.
std::string dir_of(const std::string& path) {
  size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

// 64 random-ish bits: random_device when it works, mixed with time and a
// process-wide counter so concurrent saves in one process never collide.
uint64_t random_suffix() {
  static std::atomic<uint64_t> counter{0};
  uint64_t r = static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  try {
    std::random_device rd;
    r ^= (static_cast<uint64_t>(rd()) << 32) ^ rd();
  } catch (...) {
    // No entropy source: time and the counter still make the name unique here.
  }
  return r ^ (counter.fetch_add(1) * 0x9e3779b97f4a7c15ull);
}

// The pid in a temporary name of `base` (".<base>.tmp-<pid>-<16 hex>"), or
// -1 when `name` is not one.
long temp_owner(const std::string& name, const std::string& base) {
  const std::string prefix = "." + base + ".tmp-";
  if (name.compare(0, prefix.size(), prefix) != 0) return -1;
  const std::string rest = name.substr(prefix.size());
  const size_t dash = rest.find('-');
  if (dash == 0 || dash == std::string::npos || rest.size() - dash - 1 != 16) return -1;
  long pid = 0;
  for (size_t i = 0; i < dash; ++i) {
    if (rest[i] < '0' || rest[i] > '9' || pid > 1'000'000'000) return -1;
    pid = pid * 10 + (rest[i] - '0');
  }
  for (size_t i = dash + 1; i < rest.size(); ++i) {
    if (!std::isxdigit(static_cast<unsigned char>(rest[i]))) return -1;
  }
  return pid;
}

}  // namespace

void remove_stale_temporaries(const std::string& path) {
  const std::string dir = dir_of(path);
  const std::string base = path.substr(path.find_last_of('/') + 1);
  DIR* d = ::opendir(dir.c_str());
  if (!d) return;
  while (const dirent* e = ::readdir(d)) {
    const long pid = temp_owner(e->d_name, base);
    if (pid <= 0 || pid == static_cast<long>(::getpid())) continue;
    // Only a dead writer's file: a live process may be saving right now.
    if (::kill(static_cast<pid_t>(pid), 0) == 0 || errno != ESRCH) continue;
    ::unlink((dir + "/" + e->d_name).c_str());
  }
  ::closedir(d);
}

AtomicFile::AtomicFile(std::string path, std::string op)
    : path_(std::move(path)), op_(std::move(op)) {
  if (path_.empty()) throw std::runtime_error(fmt::format("[{}] empty file path", op_));
  if (path_.back() == '/') {
    throw std::runtime_error(fmt::format("[{}] '{}' names a directory, not a file", op_, path_));
  }
  std::string dir = dir_of(path_);
  std::string base = path_.substr(path_.find_last_of('/') + 1);
  for (int attempt = 0;; ++attempt) {
    tmp_ = fmt::format("{}/.{}.tmp-{}-{:016x}", dir, base, static_cast<long>(::getpid()),
                       random_suffix());
    fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd_ >= 0) return;
    int err = errno;
    if (err == EEXIST && attempt < 16) continue;
    throw std::runtime_error(
        fmt::format("[{}] cannot create a temporary file '{}' to write '{}': {}", op_, tmp_, path_,
                    error_text(err)));
  }
}

AtomicFile::~AtomicFile() {
  if (!committed_) discard();
}

void AtomicFile::discard() noexcept {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  if (!tmp_.empty()) ::unlink(tmp_.c_str());
}

void AtomicFile::fail(const std::string& what, int err) {
  discard();
  throw std::runtime_error(fmt::format("[{}] {} '{}': {}", op_, what, path_, error_text(err)));
}

void AtomicFile::write(const void* data, size_t n) {
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    // Linux writes at most ~2 GiB per call; larger requests come back partial.
    ssize_t w = ::write(fd_, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      fail("cannot write", errno);
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
}

void AtomicFile::commit() {
  if (::fsync(fd_) != 0) fail("cannot flush (fsync)", errno);
  int fd = fd_;
  fd_ = -1;
  if (::close(fd) != 0) fail("cannot close", errno);
  if (::rename(tmp_.c_str(), path_.c_str()) != 0)
    fail("cannot rename the temporary file onto", errno);
  committed_ = true;
  remove_stale_temporaries(path_);
  // Persist the directory entry; the data is already safe, so a directory
  // that cannot be opened or synced (some file systems) is not an error.
  int dfd = ::open(dir_of(path_).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

}  // namespace mfx::io
