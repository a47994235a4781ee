// `memvisor events [--json] [--last N] [--follow]`: STATE_DIR/events.jsonl, one line per event.
//
// --follow tails the file rather than subscribing on the control socket: the file is the record
// the supervisor and the controller both append to, so following it sees every event (also the
// controller's while the supervisor restarts), costs the daemon nothing per follower, and needs no
// new state in it. Appends are whole lines (one write each), so a partial line is only ever the
// tail still being written: it is held back until its newline arrives.
#include <sys/stat.h>

#include <chrono>
#include <deque>
#include <fstream>
#include <iostream>
#include <thread>

#include "cli/cli_parse.h"
#include "cli/commands.h"
#include "cli/state_dir.h"
#include "core/observe/event.h"

namespace memvisor {
namespace {

std::string human(const std::string& line) {
  auto json = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (!json.is_object()) return "(unreadable line) " + line;
  const std::string ts = json.value("ts", "");
  std::string out = ts.size() >= 23 ? ts.substr(0, 10) + " " + ts.substr(11, 12) : ts;
  out += "  " + human_line(event_from_json(json));
  return out;
}

class EventPrinter {
 public:
  explicit EventPrinter(bool json) : json_(json) {}
  void print(const std::string& line) {
    if (line.empty()) return;
    std::cout << (json_ ? line : human(line)) << "\n";
  }

 private:
  bool json_;
};

}  // namespace

int events_command(const Args& args) {
  CLI::App app("Print the events of a memvisor (STATE_DIR/events.jsonl) in human form.", "events");
  std::string state_dir_flag;
  bool json = false;
  bool follow = false;
  size_t last = 0;
  app.add_option("--state-dir", state_dir_flag, "the state dir of the memvisor");
  app.add_flag("--json", json, "print the raw JSON lines");
  app.add_flag("-f,--follow", follow, "then print new events as they come, until interrupted");
  app.add_option("-n,--last", last, "print only the last N events first");
  if (auto done = parse_cli(app, args)) return *done;

  const std::string path = resolve_state_dir(state_dir_flag) + "/events.jsonl";
  EventPrinter printer(json);
  std::ifstream in(path, std::ios::binary);
  if (!in && !follow)
    return fail(kExitFailure, "cannot read " + path + " (is this the state dir?)");

  std::deque<std::string> tail;
  std::string line;
  std::streamoff offset = 0;
  // Complete lines only: a line without its '\n' yet is read again later.
  auto read_complete_lines = [&](auto&& on_line) {
    in.clear();
    in.seekg(offset);
    while (std::getline(in, line)) {
      if (in.eof()) break;  // no newline: still being written
      offset = in.tellg();
      on_line(line);
    }
  };
  if (in) {
    read_complete_lines([&](const std::string& l) {
      if (last == 0) {
        printer.print(l);
        return;
      }
      tail.push_back(l);
      if (tail.size() > last) tail.pop_front();
    });
    for (const auto& l : tail) printer.print(l);
  }
  std::cout.flush();
  if (!follow) return kExitOk;

  ino_t inode = 0;
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0) inode = st.st_ino;
  for (;;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    if (::stat(path.c_str(), &st) != 0) continue;
    // Replaced or truncated (a new memvisor, a log rotation): start over from its beginning.
    if (st.st_ino != inode || st.st_size < offset || !in.is_open()) {
      in.close();
      in.open(path, std::ios::binary);
      inode = st.st_ino;
      offset = 0;
      if (!in) continue;
    }
    if (st.st_size == offset) continue;
    read_complete_lines([&](const std::string& l) { printer.print(l); });
    std::cout.flush();
    if (!std::cout) return kExitOk;  // the reader went away (a closed pipe)
  }
}

}  // namespace memvisor
