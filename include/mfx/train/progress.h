// A training progress display on stderr: on a terminal one line rewritten in
// place, e.g.
//   epoch 2/12 [#######.............] 35/100 | 12.3 img/s | loss 1.234
//   loss_ce 0.512 | ETA 3m12s
// (all on one line); elsewhere (CI logs, files) the same text as plain lines
// at most every `plain_interval_s` seconds and at the end of each epoch.
#pragma once

#include <cstdint>
#include <functional>
#include <iosfwd>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace mfx::train {

/// Named values shown after the rate, in the given order (loss components).
using ProgressValues = std::vector<std::pair<std::string, double>>;

/// What one progress line shows.
struct ProgressState {
  int64_t epoch = 0;   // 0-based; shown 1-based
  int64_t epochs = 0;  // total epochs, 0 when unknown
  int64_t step = 0;    // steps done in this epoch
  int64_t steps = 0;   // steps per epoch, 0 when unknown
  double images_per_s = 0;
  double eta_s = -1;  // negative when unknown
  ProgressValues values;
};

/// The text of one progress line (no newline or terminal codes); the bar is
/// drawn only when `steps` is known. Durations read like "45s", "3m12s",
/// "2h05m".
std::string format_progress(const ProgressState& state, int bar_width = 20);

struct ProgressOptions {
  /// Where lines go; nullptr means std::cerr.
  std::ostream* out = nullptr;
  /// Terminal mode (rewrite one line with '\r'); by default, whether stderr
  /// is a terminal when `out` is std::cerr, and false for other streams.
  std::optional<bool> tty;
  /// Least time between two plain lines (non-terminal mode).
  double plain_interval_s = 30.0;
  /// Least time between two redraws in terminal mode.
  double redraw_interval_s = 0.1;
  /// Seconds from an arbitrary origin; defaults to a steady clock (tests
  /// pass a fake one).
  std::function<double()> clock;
};

class ProgressBar {
 public:
  /// `steps_per_epoch` and `epochs` may be 0 (unknown): no bar / ETA then.
  ProgressBar(int64_t steps_per_epoch, int64_t epochs, ProgressOptions options = {});
  /// Ends an unfinished terminal line.
  ~ProgressBar();
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;

  /// Starts timing epoch `epoch` (0-based).
  void start_epoch(int64_t epoch);
  /// Records that `step` steps of the current epoch are done, the last one
  /// with `images` images, and shows `values`. The rate is images per second
  /// since start_epoch; the ETA extrapolates the mean step time after the
  /// epoch's first step (which may compile or warm caches; no ETA before
  /// the second) over the remaining steps of this and the later epochs, plus
  /// set_extra_seconds.
  void update(int64_t step, int64_t images, const ProgressValues& values);
  /// Time the run needs besides its remaining steps (the evaluations still
  /// to come), added to the ETA.
  void set_extra_seconds(double seconds) { extra_s_ = seconds; }
  /// Prints the final line of the epoch (always, in both modes) and a newline.
  void finish_epoch();

 private:
  ProgressState state() const;
  void emit(bool final_line);

  int64_t steps_per_epoch_, epochs_;
  ProgressOptions opt_;
  std::ostream* out_;
  bool tty_;
  int64_t epoch_ = 0, step_ = 0, images_ = 0;
  double epoch_start_ = 0, last_emit_ = -1e300, now_ = 0, extra_s_ = 0;
  double first_step_time_ = 0;  // when the epoch's first step finished
  int64_t first_step_ = -1;
  ProgressValues values_;
  bool line_open_ = false;
};

}  // namespace mfx::train
