// A tiny 5x7 bitmap font for plot text (digits, capital letters and common
// punctuation; lower case is drawn in capitals), so charts need no font files.
#pragma once

#include <cstdint>
#include <string>

namespace mfx::train::font {

inline constexpr int kGlyphWidth = 5;
inline constexpr int kGlyphHeight = 7;
/// Horizontal distance between the left edges of neighbouring characters.
inline constexpr int kAdvance = 6;

/// Whether pixel (row, col) of the glyph for `c` is set; characters without
/// a glyph are drawn as '?'.
bool pixel(char c, int row, int col);

/// Width in pixels of `text` drawn at `scale` (no trailing gap).
int text_width(const std::string& text, int scale = 1);

}  // namespace mfx::train::font
