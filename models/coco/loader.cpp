// The prefetching loader. Workers take batch numbers in order from a shared
// counter, at most `prefetch` ahead of the consumer, and file results under
// their number; next() hands them out strictly in number order, so timing
// never changes what a batch holds or the order batches come in.
#include <fmt/format.h>

#include <iostream>
#include <stdexcept>

#include "coco/rng.h"
#include "mfx/coco/loader.h"

namespace mfx::coco {

Loader::Loader(std::shared_ptr<const DetectionDataset> dataset, LoaderConfig config)
    : dataset_(std::move(dataset)), config_(std::move(config)) {
  if (!dataset_) throw std::invalid_argument("[coco::Loader] dataset is null");
  if (config_.batch_size < 1 || config_.num_workers < 0 || config_.prefetch < 1) {
    throw std::invalid_argument(fmt::format(
        "[coco::Loader] need batch_size >= 1, num_workers >= 0, prefetch >= 1, got batch_size "
        "{}, num_workers {}, prefetch {}",
        config_.batch_size, config_.num_workers, config_.prefetch));
  }
  if (config_.world_size < 1 || config_.rank < 0 || config_.rank >= config_.world_size) {
    throw std::invalid_argument(
        fmt::format("[coco::Loader] need 0 <= rank < world_size, got rank {}, world_size {}",
                    config_.rank, config_.world_size));
  }
  bucket_for(0, config_.gt_buckets);  // validates the bucket list
}

Loader::~Loader() {
  stop_workers();
}

size_t Loader::batches_per_epoch() const {
  const size_t n = dataset_->size();
  const size_t b =
      static_cast<size_t>(config_.batch_size) * static_cast<size_t>(config_.world_size);
  return config_.drop_last ? n / b : (n + b - 1) / b;
}

void Loader::stop_workers() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  for (auto& t : workers_) t.join();
  workers_.clear();
  std::lock_guard<std::mutex> lock(mu_);
  stop_ = false;
  ready_.clear();
}

void Loader::start_epoch(int64_t epoch) {
  stop_workers();
  const size_t n = dataset_->size();
  std::vector<size_t> order(n);
  for (size_t i = 0; i < n; ++i) order[i] = i;
  if (config_.shuffle) {
    detail::Rng rng(detail::combine_seed(config_.seed, static_cast<uint64_t>(epoch), 0xA11));
    for (size_t i = n; i > 1; --i) {
      std::swap(order[i - 1], order[static_cast<size_t>(rng.uniform_int(0, int64_t(i) - 1))]);
    }
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    epoch_ = epoch;
    order_ = std::move(order);
    num_batches_ = batches_per_epoch();
    next_task_ = 0;
    next_out_ = 0;
  }
  for (int i = 0; i < config_.num_workers; ++i) workers_.emplace_back([this] { worker_loop(); });
}

Loader::Result Loader::build(size_t b, int64_t epoch, const std::vector<size_t>& order) {
  Result r;
  try {
    // This rank's slice of global batch b.
    const size_t B = static_cast<size_t>(config_.batch_size);
    const size_t first =
        (b * static_cast<size_t>(config_.world_size) + static_cast<size_t>(config_.rank)) * B;
    const size_t end = std::min(order.size(), first + B);
    std::vector<Sample> samples;
    for (size_t p = first; p < end; ++p) {
      try {
        samples.push_back(dataset_->get(order[p], config_.seed, epoch));
      } catch (const CorruptSampleError& e) {
        if (config_.on_corrupt == OnCorrupt::reject) throw;
        std::lock_guard<std::mutex> lock(mu_);
        if (reported_.insert(e.file()).second) {
          std::cerr << fmt::format("[coco::Loader] skipping corrupt image: {}\n", e.what());
        }
      }
    }
    if (!samples.empty()) r.batch = collate(samples, config_.gt_buckets, config_.pad_multiple);
  } catch (...) {
    r.error = std::current_exception();
  }
  return r;
}

void Loader::worker_loop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    cv_.wait(lock, [&] {
      return stop_ || next_task_ >= num_batches_ ||
             next_task_ < next_out_ + static_cast<size_t>(config_.prefetch);
    });
    if (stop_ || next_task_ >= num_batches_) return;
    const size_t b = next_task_++;
    const int64_t epoch = epoch_;
    lock.unlock();
    // order_ only changes in start_epoch, after the workers are joined.
    Result r = build(b, epoch, order_);
    lock.lock();
    if (stop_) return;
    ready_.emplace(b, std::move(r));
    cv_.notify_all();
  }
}

std::optional<Batch> Loader::next() {
  while (true) {
    Result r;
    if (config_.num_workers == 0) {
      if (next_out_ >= num_batches_) return std::nullopt;
      r = build(next_out_++, epoch_, order_);
    } else {
      std::unique_lock<std::mutex> lock(mu_);
      if (next_out_ >= num_batches_) return std::nullopt;
      cv_.wait(lock, [&] { return ready_.count(next_out_) > 0; });
      auto it = ready_.find(next_out_);
      r = std::move(it->second);
      ready_.erase(it);
      ++next_out_;
      cv_.notify_all();
    }
    if (r.error) std::rethrow_exception(r.error);
    if (r.batch) return std::move(r.batch);
  }
}

}  // namespace mfx::coco
