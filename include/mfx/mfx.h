// Umbrella header: everything a user of mfx needs.
#pragma once

#include "mfx/array.h"
#include "mfx/boxes.h"
#include "mfx/detection.h"
#include "mfx/device.h"
#include "mfx/dtype.h"
#include "mfx/gpu.h"
#include "mfx/io.h"
#include "mfx/linalg.h"
#include "mfx/nn.h"
#include "mfx/ops.h"
#include "mfx/optimizers.h"
#include "mfx/primitive.h"
#include "mfx/random.h"
#include "mfx/transforms.h"
#include "mfx/tree.h"
