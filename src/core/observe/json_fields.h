// Fields of JSON that memvisor reads back from disk (events.jsonl, an incident's incident.json):
// a person or another program may have edited it, so a field of the wrong type reads as absent,
// never as an exception (nlohmann's value() throws type_error on a mismatch, which aborted the
// supervisor and the CLI on `{"ts":5}`).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace memvisor {

// object[key] when object is an object and the field a string; `fallback` otherwise.
std::string string_field(const nlohmann::json& object, std::string_view key,
                         std::string fallback = "");
// object[key] when it is an integer that fits; `fallback` otherwise.
int64_t integer_field(const nlohmann::json& object, std::string_view key, int64_t fallback = 0);

}  // namespace memvisor
