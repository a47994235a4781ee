// `memvisor events [--json] [--last N] [--follow]`: STATE_DIR/events.jsonl, one line per event.
//
// --follow tails the file rather than subscribing on the control socket: the file is the record
// the supervisor and the controller both append to, so following it sees every event (also the
// controller's while the supervisor restarts), costs the daemon nothing per follower, and needs no
// new state in it. Appends are whole lines (one write each), so a partial line is only ever the
// tail still being written: it is held back until its newline arrives.
//
// events.jsonl rotates by size (events_max_size): the rotated files, events.jsonl.N (oldest) …
// events.jsonl.1, are read first, so the history the command shows survives a rotation. Following
// across a rotation: the inode of events.jsonl changes; the rest of the old file (still open) is
// read to its end before the new one is opened, so no event between the two is missed.
#include <fcntl.h>
#include <sys/stat.h>

#include <chrono>
#include <deque>
#include <fstream>
#include <functional>
#include <iostream>
#include <thread>

#include "cli/cli_parse.h"
#include "cli/commands.h"
#include "cli/state_dir.h"
#include "core/observe/event.h"
#include "core/observe/json_fields.h"
#include "os/log_rotation.h"
#include "os/unique_fd.h"

namespace memvisor {
namespace {

std::string human(const std::string& line) {
  auto json = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (!json.is_object()) return "(unreadable line) " + line;
  const std::string ts = string_field(json, "ts");
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

// Opens `path` into `in` and says which file it is: the inode of the very file the stream reads,
// whatever rotation comes between two calls. 0 when it cannot be opened.
ino_t open_events_file(const std::string& path, std::ifstream& in) {
  in.close();
  in.clear();
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  struct stat st {};
  if (!fd.valid() || ::fstat(fd.get(), &st) != 0) return 0;
  in.open("/proc/self/fd/" + std::to_string(fd.get()), std::ios::binary);
  return in.is_open() ? st.st_ino : 0;
}

ino_t inode_of(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? st.st_ino : 0;
}

// The rotated files strictly between the file with inode `after` and the one with `before`,
// oldest first: what rotations made of events.jsonl while a follower was not looking. Nothing
// when `after` is no longer among them (dropped past events_keep): better a gap than repeats.
std::vector<std::string> rotated_between(const std::string& path, ino_t after, ino_t before) {
  std::vector<std::string> newer;
  bool found = false;
  for (const std::string& file : existing_rotated_logs(path)) {
    const ino_t inode = inode_of(file);
    if (found && inode == before) break;
    if (found) newer.push_back(file);
    if (inode == after) found = true;
  }
  return newer;
}

void print_whole_file(const std::string& file, const std::function<void(const std::string&)>& on) {
  std::ifstream old(file, std::ios::binary);
  for (std::string l; std::getline(old, l);) on(l);
}

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
  // A range check, not only the type: CLI11 reads "-1" into a size_t as its wrap-around.
  app.add_option("-n,--last", last, "print only the last N events first")
      ->check(CLI::Range(size_t{0}, size_t{1} << 40));
  if (auto done = parse_cli(app, args)) return *done;

  const std::string path = resolve_state_dir(state_dir_flag) + "/events.jsonl";
  EventPrinter printer(json);
  // Which file the stream reads tells the rotated files not to read twice, and a follower when
  // events.jsonl has become another file.
  std::ifstream in;
  ino_t inode = open_events_file(path, in);
  struct stat st {};
  if (!in.is_open() && !follow)
    return fail(kExitFailure, "cannot read " + path + " (is this the state dir?)");

  std::deque<std::string> tail;
  auto take = [&](const std::string& l) {
    if (last == 0) {
      printer.print(l);
      return;
    }
    tail.push_back(l);
    if (tail.size() > last) tail.pop_front();
  };
  // Rotated files hold whole lines only, and are no longer written to.
  for (const std::string& rotated : existing_rotated_logs(path)) {
    if (inode != 0 && inode_of(rotated) == inode) break;  // rotated since opened: `in` reads it
    print_whole_file(rotated, take);
  }
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
  if (in.is_open()) read_complete_lines(take);
  for (const auto& l : tail) printer.print(l);
  std::cout.flush();
  if (!follow) return kExitOk;

  for (;;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    if (::stat(path.c_str(), &st) != 0) continue;
    // Replaced or truncated (a new memvisor, a log rotation): start over from its beginning.
    if (st.st_ino != inode || st.st_size < offset || !in.is_open()) {
      auto print = [&](const std::string& l) { printer.print(l); };
      const ino_t old_inode = in.is_open() ? inode : 0;
      // Rotated: what was appended to the old file since the last look is still to be printed,
      // then any file that came and was rotated in between.
      if (old_inode != 0 && st.st_ino != inode) read_complete_lines(print);
      inode = open_events_file(path, in);
      offset = 0;
      if (old_inode != 0 && st.st_ino != old_inode) {
        for (const std::string& file : rotated_between(path, old_inode, inode)) {
          print_whole_file(file, print);
        }
      }
      if (!in.is_open()) continue;
    }
    if (st.st_size == offset) continue;
    read_complete_lines([&](const std::string& l) { printer.print(l); });
    std::cout.flush();
    if (!std::cout) return kExitOk;  // the reader went away (a closed pipe)
  }
}

}  // namespace memvisor
