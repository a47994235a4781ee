// libFuzzer target: a config file's text through the whole load path `memvisor check` and `run`
// take (TOML parse, every table and key, validation). Any input must give a Config or an Error
// whose message names the source; a crash, an uncaught exception or a sanitizer report is a
// finding. A Config that loads is also serialized, as `memvisor check --json` would.
#include "core/config/config_json.h"
#include "core/config/config_parse.h"
#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto config = memvisor::parse_config(memvisor::fuzz::as_text(data, size), "fuzz.toml");
  if (config) {
    (void)memvisor::config_to_json(*config).dump();
  } else if (config.error().describe().rfind("fuzz.toml", 0) != 0) {
    __builtin_trap();  // every config error starts with the file's name
  }
  return 0;
}
