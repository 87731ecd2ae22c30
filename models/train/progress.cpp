// ProgressBar: timing and throttling around format_progress.
#include "mfx/train/progress.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <iostream>

namespace mfx::train {

namespace {

std::string format_duration(double s) {
  auto t = static_cast<int64_t>(std::llround(std::max(0.0, s)));
  if (t < 60) return fmt::format("{}s", t);
  if (t < 3600) return fmt::format("{}m{:02}s", t / 60, t % 60);
  return fmt::format("{}h{:02}m", t / 3600, (t % 3600) / 60);
}

std::string value_text(double v) {
  if (!std::isfinite(v)) return fmt::format("{}", v);
  return std::abs(v) >= 1000 ? fmt::format("{:.1f}", v) : fmt::format("{:.4g}", v);
}

double steady_seconds() {
  using namespace std::chrono;
  return duration_cast<duration<double>>(steady_clock::now().time_since_epoch()).count();
}

}  // namespace

std::string format_progress(const ProgressState& s, int bar_width) {
  std::string line = s.epochs > 0 ? fmt::format("epoch {}/{}", s.epoch + 1, s.epochs)
                                  : fmt::format("epoch {}", s.epoch + 1);
  if (s.steps > 0) {
    int filled = static_cast<int>(std::clamp<int64_t>(s.step * bar_width / s.steps, 0, bar_width));
    line += fmt::format(" [{}{}] {}/{}", std::string(filled, '#'),
                        std::string(bar_width - filled, '.'), s.step, s.steps);
  } else {
    line += fmt::format(" step {}", s.step);
  }
  line += fmt::format(" | {:.1f} img/s", s.images_per_s);
  if (!s.values.empty()) {
    line += " |";
    for (auto& [name, v] : s.values) line += fmt::format(" {} {}", name, value_text(v));
  }
  if (s.eta_s >= 0) line += " | ETA " + format_duration(s.eta_s);
  return line;
}

ProgressBar::ProgressBar(int64_t steps_per_epoch, int64_t epochs, ProgressOptions options)
    : steps_per_epoch_(steps_per_epoch), epochs_(epochs), opt_(std::move(options)) {
  out_ = opt_.out ? opt_.out : &std::cerr;
  if (opt_.tty) {
    tty_ = *opt_.tty;
  } else {
    tty_ = out_ == &std::cerr && isatty(STDERR_FILENO) == 1;
  }
  if (!opt_.clock) opt_.clock = steady_seconds;
  epoch_start_ = now_ = opt_.clock();
}

ProgressBar::~ProgressBar() {
  if (line_open_) *out_ << "\n" << std::flush;
}

void ProgressBar::start_epoch(int64_t epoch) {
  epoch_ = epoch;
  step_ = 0;
  images_ = 0;
  values_.clear();
  epoch_start_ = now_ = opt_.clock();
  last_emit_ = -1e300;
  first_step_ = -1;
}

void ProgressBar::update(int64_t step, int64_t images, const ProgressValues& values) {
  step_ = step;
  images_ += images;
  values_ = values;
  now_ = opt_.clock();
  if (first_step_ < 0) {
    first_step_ = step;
    first_step_time_ = now_;
  }
  double interval = tty_ ? opt_.redraw_interval_s : opt_.plain_interval_s;
  if (now_ - last_emit_ >= interval) emit(false);
}

void ProgressBar::finish_epoch() {
  now_ = opt_.clock();
  emit(true);
}

ProgressState ProgressBar::state() const {
  ProgressState s;
  s.epoch = epoch_;
  s.epochs = epochs_;
  s.step = step_;
  s.steps = steps_per_epoch_;
  s.values = values_;
  double elapsed = now_ - epoch_start_;
  s.images_per_s = elapsed > 0 ? static_cast<double>(images_) / elapsed : 0.0;
  if (steps_per_epoch_ > 0 && first_step_ >= 0 && step_ > first_step_) {
    int64_t later_epochs = epochs_ > 0 ? std::max<int64_t>(0, epochs_ - epoch_ - 1) : 0;
    int64_t remaining =
        std::max<int64_t>(0, steps_per_epoch_ - step_) + later_epochs * steps_per_epoch_;
    const double per_step =
        (now_ - first_step_time_) / static_cast<double>(step_ - first_step_);
    s.eta_s = per_step * static_cast<double>(remaining) + extra_s_;
  }
  return s;
}

void ProgressBar::emit(bool final_line) {
  std::string text = format_progress(state());
  if (tty_) {
    *out_ << "\r" << text << "\x1b[K";
    line_open_ = !final_line;
    if (final_line) *out_ << "\n";
  } else {
    *out_ << text << "\n";
  }
  out_->flush();
  last_emit_ = now_;
}

}  // namespace mfx::train
