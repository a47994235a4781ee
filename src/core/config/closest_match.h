// "Did you mean ...?" for unknown config keys: the nearest candidate by edit distance.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace memvisor {

// Optimal string alignment distance (Damerau–Levenshtein where a transposition counts as one
// edit and no substring is edited twice), ASCII case-insensitive.
size_t edit_distance(std::string_view a, std::string_view b);

// The candidate nearest to word, if its distance is at most max(2, word.size() / 3) and smaller
// than word.size() (so "ab" does not suggest "cd"). Ties go to the earlier candidate.
std::optional<std::string> closest_match(std::string_view word,
                                         std::span<const std::string_view> candidates);

}  // namespace memvisor
