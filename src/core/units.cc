// Sizes, durations, rates and signals as text. Arithmetic is exact (128-bit integers, no floating
// point), so "1.5GiB" is 1610612736 bytes on every machine.
#include "core/units.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <csignal>
#include <limits>
#include <utility>

namespace memvisor {
namespace {

__extension__ typedef unsigned __int128 u128;  // NOLINT: GCC extension, exact wide arithmetic

constexpr u128 kU64Max = std::numeric_limits<uint64_t>::max();
// Further fraction digits are ignored: even in TiB they are worth about a millionth of a byte.
constexpr size_t kMaxFractionDigits = 18;

// "12.5" as 12 + 5/10. The whole part saturates far above any valid result.
struct Decimal {
  u128 whole = 0;
  u128 fraction = 0;
  u128 fraction_scale = 1;

  u128 times(u128 unit) const { return whole * unit + fraction * unit / fraction_scale; }
};

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

// Reads digits[.digits] from the front of text; nothing read (or "5.") is a failure.
std::optional<Decimal> read_decimal(std::string_view& text) {
  Decimal d;
  size_t i = 0;
  for (; i < text.size() && is_digit(text[i]); ++i) {
    d.whole = std::min<u128>(d.whole * 10 + static_cast<unsigned>(text[i] - '0'), kU64Max + 1);
  }
  if (i == 0) return std::nullopt;
  if (i < text.size() && text[i] == '.') {
    size_t start = ++i;
    for (; i < text.size() && is_digit(text[i]); ++i) {
      if (i - start >= kMaxFractionDigits) continue;
      d.fraction = d.fraction * 10 + static_cast<unsigned>(text[i] - '0');
      d.fraction_scale *= 10;
    }
    if (i == start) return std::nullopt;
  }
  text.remove_prefix(i);
  return d;
}

template <class T>
std::optional<T> lookup(const auto& table, std::string_view name) {
  for (const auto& [n, value] : table) {
    if (n == name) return value;
  }
  return std::nullopt;
}

struct Unit {
  std::string_view name;
  u128 factor;
};

constexpr std::array<Unit, 10> kSizeUnits{{{"KiB", u128{1} << 10},
                                           {"MiB", u128{1} << 20},
                                           {"GiB", u128{1} << 30},
                                           {"TiB", u128{1} << 40},
                                           {"kB", 1000},
                                           {"KB", 1000},
                                           {"MB", 1000'000},
                                           {"GB", 1000'000'000},
                                           {"TB", 1000'000'000'000},
                                           {"B", 1}}};

// Largest first: in a compound duration each unit must come after all larger ones.
constexpr std::array<Unit, 6> kDurationUnits{
    {{"d", 86'400'000}, {"h", 3'600'000}, {"min", 60'000}, {"m", 60'000}, {"s", 1000}, {"ms", 1}}};

enum class Parsed { ok, malformed, too_large };

Parsed read_size(std::string_view text, u128& bytes) {
  auto number = read_decimal(text);
  if (!number) return Parsed::malformed;
  u128 factor = 1;
  if (!text.empty()) {
    auto unit = lookup<u128>(kSizeUnits, text);
    if (!unit) return Parsed::malformed;
    factor = *unit;
  }
  bytes = number->times(factor);
  return bytes > kU64Max ? Parsed::too_large : Parsed::ok;
}

Error expected(std::string_view what, std::string_view text) {
  return Error{fmt::format("expected {}, got '{}'", what, text)};
}

}  // namespace

Result<uint64_t> parse_size(std::string_view text) {
  u128 bytes = 0;
  switch (read_size(text, bytes)) {
    case Parsed::ok:
      return static_cast<uint64_t>(bytes);
    case Parsed::too_large:
      return expected("a size below 16 EiB", text);
    case Parsed::malformed:
      break;
  }
  return expected("a size like 500MiB, 2GB or 1.5GiB", text);
}

Result<Millis> parse_duration(std::string_view text) {
  const auto malformed = [&] { return expected("a duration like 100ms, 10s, 5m or 1h", text); };
  if (text == "0") return Millis{0};
  std::string_view rest = text;
  u128 total = 0;
  size_t next_unit = 0;  // index into kDurationUnits of the largest unit still allowed
  if (rest.empty()) return malformed();
  while (!rest.empty()) {
    auto number = read_decimal(rest);
    if (!number) return malformed();
    size_t len = 0;
    while (len < rest.size() && rest[len] >= 'a' && rest[len] <= 'z') ++len;
    std::string_view unit = rest.substr(0, len);
    rest.remove_prefix(len);
    size_t i = next_unit;
    while (i < kDurationUnits.size() && kDurationUnits[i].name != unit) ++i;
    if (i == kDurationUnits.size()) return malformed();
    // "min" and "m" are one unit: neither may follow the other.
    next_unit = kDurationUnits[i].name == "min" ? i + 2 : i + 1;
    total += number->times(kDurationUnits[i].factor);
    if (total > static_cast<u128>(kMaxDuration.count())) {
      return expected("a duration of at most 3650d", text);
    }
  }
  return Millis{static_cast<int64_t>(total)};
}

Result<uint64_t> parse_rate(std::string_view text) {
  const auto malformed = [&] {
    return expected("a rate like 10MiB/h, 1MiB/min or 100KiB/s", text);
  };
  size_t slash = text.rfind('/');
  if (slash == std::string_view::npos) return malformed();
  auto per = lookup<u128>(kDurationUnits, text.substr(slash + 1));
  if (!per || *per == 1) return malformed();  // no "/ms": nothing grows that fast
  u128 bytes = 0;
  Parsed parsed = read_size(text.substr(0, slash), bytes);
  if (parsed == Parsed::malformed) return malformed();
  u128 per_hour = parsed == Parsed::ok ? bytes * 3'600'000 / *per : kU64Max + 1;
  if (per_hour > kU64Max) return expected("a rate below 16 EiB/h", text);
  return static_cast<uint64_t>(per_hour);
}

std::string format_size(uint64_t bytes) {
  if (bytes < 1024) return fmt::format("{} B", bytes);
  static constexpr std::array<std::string_view, 6> kUnits{"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  size_t unit = 0;
  u128 divisor = 1024;
  while (unit + 1 < kUnits.size() && bytes >= divisor * 1024) {
    divisor *= 1024;
    ++unit;
  }
  for (;;) {
    u128 whole = bytes / divisor;
    int decimals = whole < 10 ? 2 : whole < 100 ? 1 : 0;
    u128 scale = decimals == 2 ? 100 : decimals == 1 ? 10 : 1;
    u128 scaled = (bytes * scale * 2 + divisor) / (divisor * 2);  // rounded half up
    if (scaled >= 1024 * scale && unit + 1 < kUnits.size()) {     // 1023.9 KiB → 1 MiB
      divisor *= 1024;
      ++unit;
      continue;
    }
    auto integral = static_cast<uint64_t>(scaled / scale);
    auto fraction = static_cast<uint64_t>(scaled % scale);
    if (decimals == 2 && fraction % 10 == 0) {
      fraction /= 10;
      decimals = 1;
    }
    if (fraction == 0) return fmt::format("{} {}", integral, kUnits[unit]);
    return fmt::format("{}.{:0{}} {}", integral, fraction, decimals, kUnits[unit]);
  }
}

std::string format_size_exact(uint64_t bytes) {
  std::string best = fmt::format("{}B", bytes);
  for (const Unit& unit : kSizeUnits) {                      // binary units first, so they win ties
    if (unit.name == "KB" || bytes < unit.factor) continue;  // "kB" is the spelling shown
    u128 thousandths = u128{bytes} * 1000;
    if (thousandths % unit.factor != 0) continue;  // not exact in three decimals
    auto scaled = static_cast<uint64_t>(thousandths / unit.factor);
    std::string text = fmt::format("{}.{:03}", scaled / 1000, scaled % 1000);
    while (text.back() == '0') text.pop_back();
    if (text.back() == '.') text.pop_back();
    text += unit.name;
    if (text.size() < best.size()) best = std::move(text);
  }
  return best;
}

namespace {

// The magnitude of a duration and its sign, so that even Millis::min() has a magnitude.
std::pair<std::string_view, uint64_t> split_sign(Millis duration) {
  int64_t ms = duration.count();
  if (ms >= 0) return {"", static_cast<uint64_t>(ms)};
  return {"-", 0 - static_cast<uint64_t>(ms)};
}

}  // namespace

std::string format_duration(Millis duration) {
  auto [sign, ms] = split_sign(duration);
  if (ms < 1000) return fmt::format("{}{}ms", sign, ms);
  if (ms < 10'000 && ms % 1000 >= 100) {
    return fmt::format("{}{}.{}s", sign, ms / 1000, ms % 1000 / 100);
  }
  static constexpr std::array<Unit, 4> kUnits{
      {{"d", 86'400'000}, {"h", 3'600'000}, {"m", 60'000}, {"s", 1000}}};
  size_t i = 0;
  while (ms < kUnits[i].factor) ++i;
  auto big = static_cast<uint64_t>(kUnits[i].factor);
  if (i + 1 == kUnits.size()) return fmt::format("{}{}s", sign, ms / big);
  auto small = static_cast<uint64_t>(kUnits[i + 1].factor);
  uint64_t rest = ms % big / small;
  if (rest == 0) return fmt::format("{}{}{}", sign, ms / big, kUnits[i].name);
  return fmt::format("{}{}{}{}{}", sign, ms / big, kUnits[i].name, rest, kUnits[i + 1].name);
}

std::string format_duration_exact(Millis duration) {
  auto [sign, ms] = split_sign(duration);
  if (ms == 0) return "0";
  std::string out(sign);
  for (const Unit& unit : kDurationUnits) {
    auto factor = static_cast<uint64_t>(unit.factor);
    if (unit.name == "min" || ms < factor) continue;
    out += fmt::format("{}{}", ms / factor, unit.name);
    ms %= factor;
  }
  return out;
}

namespace {

struct SignalEntry {
  std::string_view name;
  int number;
};

// Canonical names first: signal_name returns the first entry for a number.
constexpr std::array<SignalEntry, 34> kSignals{{
    {"HUP", SIGHUP},   {"INT", SIGINT},       {"QUIT", SIGQUIT}, {"ILL", SIGILL},
    {"TRAP", SIGTRAP}, {"ABRT", SIGABRT},     {"BUS", SIGBUS},   {"FPE", SIGFPE},
    {"KILL", SIGKILL}, {"USR1", SIGUSR1},     {"SEGV", SIGSEGV}, {"USR2", SIGUSR2},
    {"PIPE", SIGPIPE}, {"ALRM", SIGALRM},     {"TERM", SIGTERM}, {"STKFLT", SIGSTKFLT},
    {"CHLD", SIGCHLD}, {"CONT", SIGCONT},     {"STOP", SIGSTOP}, {"TSTP", SIGTSTP},
    {"TTIN", SIGTTIN}, {"TTOU", SIGTTOU},     {"URG", SIGURG},   {"XCPU", SIGXCPU},
    {"XFSZ", SIGXFSZ}, {"VTALRM", SIGVTALRM}, {"PROF", SIGPROF}, {"WINCH", SIGWINCH},
    {"IO", SIGIO},     {"PWR", SIGPWR},       {"SYS", SIGSYS},   {"IOT", SIGABRT},
    {"POLL", SIGIO},   {"CLD", SIGCHLD},
}};

constexpr int kMaxSignal = _NSIG - 1;  // 64 on Linux: the real-time signals have no names here

}  // namespace

std::optional<int> parse_signal(std::string_view text) {
  if (!text.empty() && text.size() <= 2 && is_digit(text[0]) && is_digit(text.back())) {
    int number = text.size() == 1 ? text[0] - '0' : (text[0] - '0') * 10 + (text[1] - '0');
    if (number >= 1 && number <= kMaxSignal && text[0] != '0') return number;
    return std::nullopt;
  }
  std::string upper(text);
  for (char& c : upper) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  std::string_view name = upper;
  if (name.starts_with("SIG")) name.remove_prefix(3);
  return lookup<int>(kSignals, name);
}

std::string signal_name(int signo) {
  for (const auto& [name, number] : kSignals) {
    if (number == signo) return fmt::format("SIG{}", name);
  }
  return fmt::format("signal {}", signo);
}

}  // namespace memvisor
