// Parsing an HTTP/1.x response head.
#include "runtimes/node/http_head.h"

#include <algorithm>
#include <cctype>

namespace memvisor::nodejs {
namespace {

std::string_view trim_http_space(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\r'))
    text.remove_suffix(1);
  return text;
}

}  // namespace

std::string HttpHead::header(std::string_view name) const {
  for (const auto& [key, value] : headers)
    if (key == name) return value;
  return "";
}

size_t http_head_end(std::string_view response) {
  const size_t at = response.find("\r\n\r\n");
  return at == std::string_view::npos ? at : at + 4;
}

std::optional<HttpHead> parse_http_head(std::string_view head) {
  size_t end = head.find("\r\n");
  if (end == std::string_view::npos) return std::nullopt;
  const std::string_view status_line = head.substr(0, end);
  // "HTTP/1.1 101 Switching Protocols"
  if (status_line.substr(0, 7) != "HTTP/1." || status_line.size() < 12 || status_line[8] != ' ')
    return std::nullopt;
  HttpHead out;
  for (size_t i = 9; i < 12; ++i) {
    if (!std::isdigit(static_cast<unsigned char>(status_line[i]))) return std::nullopt;
    out.status = out.status * 10 + (status_line[i] - '0');
  }
  size_t at = end + 2;
  while (at < head.size()) {
    end = head.find("\r\n", at);
    if (end == std::string_view::npos) end = head.size();
    const std::string_view line = head.substr(at, end - at);
    at = end + 2;
    if (line.empty()) break;
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) return std::nullopt;
    std::string name(trim_http_space(line.substr(0, colon)));
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    out.headers.emplace_back(std::move(name), std::string(trim_http_space(line.substr(colon + 1))));
  }
  return out;
}

}  // namespace memvisor::nodejs
