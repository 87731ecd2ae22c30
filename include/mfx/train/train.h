// Model-independent training machinery (mfx::train): checkpoints, the
// NaN/inf guard, the metrics log, PNG line charts, detection drawings, the
// progress display and detections -> COCO results.
#pragma once

#include "mfx/train/checkpoint.h"
#include "mfx/train/coco_results.h"
#include "mfx/train/draw.h"
#include "mfx/train/guard.h"
#include "mfx/train/metrics_log.h"
#include "mfx/train/plot.h"
#include "mfx/train/progress.h"
