// `memvisor top`: a full-screen live view of the fleet over the control socket (the `status` and
// `series` commands) with the tail of events.jsonl; a plain-text snapshot when stdout is not a
// terminal or with --once. The rows, orders and cells are top_model.cc's; this file only fetches
// and draws.
//
// The terminal is ncurses (Debian's libncurses-dev, the wide-character ncursesw): it handles
// terminfo, resizing and the alternate screen. FTXUI, the other library the issue names, is not
// packaged in Debian 12, and dependencies here come from Debian.
#include <curses.h>
#include <fcntl.h>
#include <langinfo.h>
#include <unistd.h>

#include <fmt/format.h>

#include <chrono>
#include <clocale>
#include <csignal>
#include <cstring>
#include <fstream>
#include <iostream>
#include <optional>

#include "cli/cli_parse.h"
#include "cli/commands.h"
#include "cli/control_client.h"
#include "cli/state_dir.h"
#include "cli/top_model.h"
#include "core/units.h"
#include "os/process_usage.h"

namespace memvisor {
namespace {

volatile std::sig_atomic_t g_top_quit = 0;

void on_top_signal(int) {
  g_top_quit = 1;
}

struct TopOptions {
  std::string state_dir;
  std::string service;
  Millis interval{1000};
};

// One refresh's data: the replies, or why there are none.
struct TopData {
  bool ok = false;
  std::string error;
  nlohmann::json status;
  nlohmann::json series = nlohmann::json::array();
};

TopData fetch_top(const std::string& state_dir, bool quick) {
  TopData data;
  // Live: one connect attempt and a short wait, so the keys stay responsive while memvisor is
  // down; the next refresh tries again.
  const auto reply_timeout = std::chrono::seconds(quick ? 2 : 10);
  const auto retry = quick ? std::chrono::milliseconds(0) : std::chrono::milliseconds(3000);
  auto status = control_request(state_dir, {{"cmd", "status"}}, reply_timeout, retry);
  if (!status) {
    data.error = status.error().describe();
    return data;
  }
  if (!status->value("ok", false)) {
    data.error = status->value("error", "status request failed");
    return data;
  }
  data.status = (*status)["status"];
  data.ok = true;
  // An older supervisor without `series` still gives the table, without sparklines.
  auto series = control_request(state_dir, {{"cmd", "series"}, {"points", kSparklinePoints}},
                                reply_timeout, retry);
  if (series && series->value("ok", false) && (*series)["series"].is_array()) {
    data.series = (*series)["series"];
  }
  return data;
}

// The last events of STATE_DIR/events.jsonl: its final 64 KiB are plenty for a screenful.
std::vector<std::string> latest_events(const std::string& state_dir, size_t n) {
  std::ifstream in(state_dir + "/events.jsonl", std::ios::binary | std::ios::ate);
  if (!in) return {};
  const std::streamoff size = in.tellg();
  const std::streamoff from = std::max<std::streamoff>(0, size - (64 << 10));
  in.seekg(from);
  std::string text(static_cast<size_t>(size - from), '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<size_t>(in.gcount()));
  return event_lines(text, n);
}

// memvisor's own CPU and resident memory: its controller and supervisor processes.
class SelfUsage {
 public:
  // "memvisor itself: cpu 0.4%, 11.2 MiB resident (controller 1234, supervisor 1240)". Live, the
  // CPU share is over the last refresh; the first time, the average since the processes started.
  std::string line(const nlohmann::json& status) {
    if (!clock_) {
      auto clock = read_process_clock();
      if (!clock) return "memvisor itself: (no /proc: " + clock.error().describe() + ")";
      clock_ = *clock;
    }
    const int pids[2] = {status.value("controller_pid", 0), status.value("supervisor_pid", 0)};
    double cpu = 0, resident = 0, lifetime = 0;
    for (const int pid : pids) {
      if (pid <= 0) continue;
      auto usage = read_process_usage(pid, *clock_, "");
      if (!usage) continue;
      cpu += usage->cpu_seconds;
      resident += usage->resident_bytes;
      lifetime = std::max(lifetime, now_s() - usage->start_time_seconds);
    }
    const double now = now_s();
    double share = 0;
    if (last_ && pids[0] == last_pids_[0] && pids[1] == last_pids_[1] && now > last_->second) {
      share = (cpu - last_->first) / (now - last_->second);
    } else if (lifetime > 0) {
      share = cpu / lifetime;
    }
    last_ = {cpu, now};
    last_pids_[0] = pids[0];
    last_pids_[1] = pids[1];
    return fmt::format("memvisor itself: cpu {:.1f}%, {} resident (controller {}, supervisor {})",
                       std::max(0.0, share * 100), format_size(static_cast<uint64_t>(resident)),
                       pids[0], pids[1]);
  }

 private:
  static double now_s() {
    return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
  std::optional<ProcessClock> clock_;
  std::optional<std::pair<double, double>> last_;  // cpu seconds, at
  int last_pids_[2] = {0, 0};
};

std::string not_running(const std::string& state_dir, const std::string& why) {
  return "memvisor not running in " + state_dir + " (" + why + ")";
}

std::vector<TopRow> shown_rows(const TopData& data, TopSort sort, const std::string& filter) {
  std::vector<TopRow> rows = build_top_rows(data.status, data.series);
  filter_top_rows(rows, filter);
  sort_top_rows(rows, sort);
  return rows;
}

// "--service web": a name this memvisor runs, or the message that says which it runs.
std::optional<std::string> unknown_service(const nlohmann::json& status,
                                           const std::string& service) {
  if (service.empty()) return std::nullopt;
  std::string names;
  for (const auto& s : status.value("services", nlohmann::json::array())) {
    const std::string name = s.value("name", "");
    if (name == service) return std::nullopt;
    names += (names.empty() ? "" : ", ") + name;
  }
  return "--service: no service '" + service +
         "' in this memvisor (it runs: " + (names.empty() ? "none" : names) + ")";
}

int plain_snapshot(const TopOptions& options, bool utf8) {
  const TopData data = fetch_top(options.state_dir, false);
  if (!data.ok) return fail(kExitFailure, not_running(options.state_dir, data.error));
  if (auto unknown = unknown_service(data.status, options.service))
    return fail(kExitUsage, *unknown);
  const std::vector<TopRow> rows = shown_rows(data, TopSort::memory, options.service);
  SelfUsage self;
  std::vector<std::string> header = {
      "memvisor top: " + options.state_dir + " (sorted by memory" +
          (options.service.empty() ? "" : ", service " + options.service) + ")",
      totals_line(data.status, build_top_rows(data.status, data.series)), self.line(data.status)};
  std::cout << render_plain(header, top_table_lines(rows, utf8),
                            latest_events(options.state_dir, 8));
  return kExitOk;
}

// ncurses is set up here and ended in the destructor, whichever way the view is left.
class Screen {
 public:
  Screen() {
    screen_ = newterm(nullptr, stdout, stdin);
    if (screen_ == nullptr) return;
    cbreak();
    noecho();
    keypad(stdscr, TRUE);
    curs_set(0);
    timeout(100);  // getch waits at most this long: signals and refreshes are seen promptly
    if (has_colors()) {
      start_color();
      use_default_colors();
      init_pair(1, COLOR_RED, -1);
      init_pair(2, COLOR_YELLOW, -1);
      init_pair(3, COLOR_CYAN, -1);
      init_pair(4, COLOR_GREEN, -1);
    }
  }
  ~Screen() {
    if (screen_ == nullptr) return;
    endwin();
    delscreen(screen_);
  }
  Screen(const Screen&) = delete;
  Screen& operator=(const Screen&) = delete;
  bool ok() const { return screen_ != nullptr; }

 private:
  SCREEN* screen_ = nullptr;
};

// A line cut to `cols` columns (every character here is one column wide: ASCII and the block
// characters), padded so a reverse-video bar spans the screen.
std::string fit_columns(const std::string& text, int cols, bool pad) {
  std::string out;
  int used = 0;
  for (size_t i = 0; i < text.size() && used < cols;) {
    size_t len = 1;
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0xF0) {
      len = 4;
    } else if (c >= 0xE0) {
      len = 3;
    } else if (c >= 0xC0) {
      len = 2;
    }
    out.append(text, i, len);
    i += len;
    ++used;
  }
  if (pad && used < cols) out.append(static_cast<size_t>(cols - used), ' ');
  return out;
}

void put_line(int y, const std::string& text, int cols, attr_t attr = A_NORMAL, bool pad = false) {
  attron(attr);
  mvaddstr(y, 0, fit_columns(text, cols, pad).c_str());
  attroff(attr);
}

attr_t row_colour(const TopRow& row) {
  if (!has_colors()) return A_NORMAL;
  const auto share = [&](std::optional<double> of) {
    return row.memory && of && *of > 0 ? *row.memory / *of : 0.0;
  };
  if (share(row.critical) >= 0.9 || share(row.limit) >= 1) return COLOR_PAIR(1) | A_BOLD;
  if (share(row.limit) >= 0.8 || (row.slope_per_hour && *row.slope_per_hour > 0 &&
                                  row.state == "running" && share(row.limit) >= 0.5)) {
    return COLOR_PAIR(2);
  }
  if (row.pid == 0) return A_DIM;
  return A_NORMAL;
}

int live_view(const TopOptions& options, bool utf8) {
  Screen screen;
  if (!screen.ok()) return plain_snapshot(options, utf8);
  TopSort sort = TopSort::memory;
  std::string filter = options.service;
  std::optional<std::string> typing;  // the filter being typed
  SelfUsage self;
  TopData data;
  std::string self_line;
  auto next_fetch = std::chrono::steady_clock::now();
  bool dirty = true;
  while (g_top_quit == 0) {
    const auto now = std::chrono::steady_clock::now();
    if (now >= next_fetch) {
      data = fetch_top(options.state_dir, true);
      if (data.ok) self_line = self.line(data.status);
      next_fetch = now + options.interval;
      dirty = true;
    }
    if (dirty) {
      dirty = false;
      int rows_n = 0, cols = 0;
      getmaxyx(stdscr, rows_n, cols);
      erase();
      char clock[16];
      const std::time_t t = std::time(nullptr);
      std::strftime(clock, sizeof clock, "%H:%M:%S", std::localtime(&t));
      put_line(0,
               "memvisor top  " + options.state_dir + "  sort: " + std::string(sort_name(sort)) +
                   (filter.empty() ? "" : "  service: " + filter) + "  " + clock,
               cols, A_REVERSE | A_BOLD, true);
      if (!data.ok) {
        put_line(2, not_running(options.state_dir, data.error), cols, A_BOLD);
        put_line(3, "retrying every " + format_duration(options.interval) + "; q quits", cols);
      } else {
        const std::vector<TopRow> all = build_top_rows(data.status, data.series);
        const std::vector<TopRow> rows = shown_rows(data, sort, filter);
        put_line(1, totals_line(data.status, all), cols);
        put_line(2, self_line, cols);
        const std::vector<std::string> table = top_table_lines(rows, utf8);
        const std::vector<std::string> events = latest_events(options.state_dir, 6);
        // The events take the bottom: their own lines, a title, a blank; the keys' line last.
        const int events_height = static_cast<int>(events.size()) + 2;
        const int table_top = 4;
        const int table_room = std::max(1, rows_n - 1 - events_height - table_top);
        int y = table_top;
        for (size_t i = 0; i < table.size() && y < table_top + table_room; ++i, ++y) {
          put_line(y, table[i], cols, i == 0 ? (A_REVERSE) : row_colour(rows[i - 1]), i == 0);
        }
        if (rows.empty()) put_line(y++, "  (no instance of service '" + filter + "')", cols, A_DIM);
        int ey = std::max(y + 1, rows_n - 1 - static_cast<int>(events.size()) - 1);
        put_line(ey++, "Latest events", cols, A_BOLD);
        for (const std::string& line : events) {
          if (ey >= rows_n - 1) break;
          put_line(ey++, "  " + line, cols, has_colors() ? COLOR_PAIR(3) : A_NORMAL);
        }
      }
      if (typing) {
        put_line(rows_n - 1,
                 "filter by service (Enter applies, empty shows all, Esc cancels): " + *typing,
                 cols, A_BOLD, true);
      } else {
        put_line(rows_n - 1, "s/S sort   f or / filter by service   q quit", cols, A_REVERSE, true);
      }
      refresh();
    }
    const int key = getch();
    if (key == ERR) continue;
    dirty = true;
    if (typing) {
      if (key == '\n' || key == '\r' || key == KEY_ENTER) {
        filter = *typing;
        typing.reset();
      } else if (key == 27) {  // Esc
        typing.reset();
      } else if (key == KEY_BACKSPACE || key == 127 || key == 8) {
        if (!typing->empty()) typing->pop_back();
      } else if (key >= 32 && key < 127 && typing->size() < 64) {
        typing->push_back(static_cast<char>(key));
      }
      continue;
    }
    switch (key) {
      case 'q':
      case 'Q':
        g_top_quit = 1;
        break;
      case 's':
        sort = next_sort(sort);
        break;
      case 'S':
        sort = previous_sort(sort);
        break;
      case 'f':
      case '/':
        typing = filter;
        break;
      default:
        break;
    }
  }
  return kExitOk;
}

}  // namespace

int top_command(const Args& args) {
  CLI::App app(
      "A live view of every instance of a running memvisor: memory with its recent series, "
      "% of limit and critical, leak slope, requests, restarts, and the latest events. Keys: s/S "
      "sort, f or / filter by service, q quit. Prints one plain snapshot when stdout is not a "
      "terminal, or with --once.",
      "top");
  std::string state_dir_flag;
  std::string interval_text = "1s";
  TopOptions options;
  bool once = false;
  app.add_option("--state-dir", state_dir_flag, "the state dir of the memvisor to watch");
  app.add_option("--service", options.service, "show only this service (f changes it live)");
  app.add_option("--interval", interval_text, "refresh period, e.g. 1s, 500ms (100ms at least)");
  app.add_flag("--once", once, "print one plain-text snapshot and exit");
  if (auto done = parse_cli(app, args)) return *done;
  auto interval = parse_duration(interval_text);
  if (!interval || *interval < Millis(100)) {
    return fail(kExitUsage, "--interval: a duration of 100ms at least, e.g. 1s");
  }
  options.interval = *interval;
  options.state_dir = resolve_state_dir(state_dir_flag);

  std::setlocale(LC_ALL, "");
  const bool utf8 = std::strcmp(::nl_langinfo(CODESET), "UTF-8") == 0;
  if (once || ::isatty(STDOUT_FILENO) == 0) return plain_snapshot(options, utf8);
  // A name it does not run is said before the screen is taken (a memvisor not running yet is
  // waited for on screen, as always).
  if (const TopData first = fetch_top(options.state_dir, true); first.ok) {
    if (auto unknown = unknown_service(first.status, options.service))
      return fail(kExitUsage, *unknown);
  }

  // Our handlers before ncurses starts: it leaves them alone, and getch returns on the signal,
  // so the loop ends through the Screen's destructor (endwin) on q, Ctrl-C, SIGTERM and SIGHUP.
  struct sigaction action {};
  action.sa_handler = on_top_signal;
  sigemptyset(&action.sa_mask);
  for (const int signo : {SIGINT, SIGTERM, SIGHUP}) ::sigaction(signo, &action, nullptr);
  return live_view(options, utf8);
}

}  // namespace memvisor
