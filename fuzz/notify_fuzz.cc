// libFuzzer target: a datagram on an instance's NOTIFY_SOCKET (any process of the worker may
// send one), and the WATCHDOG_USEC/WATCHDOG_PID values memvisor reads from its own manager.
#include <string>

#include "core/protocol/notify_protocol.h"
#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace memvisor;
  const std::string_view text = fuzz::as_text(data, size);
  const NotifyFields fields = parse_notify_message(text);
  if (fields.main_pid && *fields.main_pid <= 0) __builtin_trap();  // MAINPID must be a real pid
  const size_t split = text.find('\n');
  const std::string usec(text.substr(0, split));
  const std::string pid(split == std::string_view::npos ? "" : text.substr(split + 1));
  (void)service_watchdog_timeout(usec.c_str(), pid.c_str(), 1234);
  return 0;
}
