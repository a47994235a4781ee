// For the config unit tests only: parse_config on a text named web.toml, and the text of one
// service "web" to which a test adds keys.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "core/config/config_parse.h"

namespace memvisor {

// The error message, or "parsed without error".
inline std::string config_error(std::string_view text) {
  auto parsed = parse_config(text, "web.toml");
  return parsed.ok() ? "parsed without error" : parsed.error().message;
}

// The config; a failed expectation (and an empty config) when it does not parse.
inline Config config_ok(std::string_view text) {
  auto parsed = parse_config(text, "web.toml");
  EXPECT_TRUE(parsed.ok()) << parsed.error().message;
  return parsed.ok() ? *parsed : Config{};
}

// One service "web" with a command; `rest` goes on line 3 onwards.
inline std::string web_service(std::string_view rest) {
  return "[service.web]\ncommand = [\"app\"]\n" + std::string(rest);
}

}  // namespace memvisor
