// /proc/PID/task/TID/children: the pids of a thread's children, space-separated. How a pre-fork
// master's workers are found each sampling round, and how a tree is walked.
#pragma once

#include <string_view>
#include <vector>

namespace memvisor {

// Appends every pid in `text` to `out`; stops at the first thing that is not one.
void parse_children_list(std::string_view text, std::vector<int>& out);

}  // namespace memvisor
