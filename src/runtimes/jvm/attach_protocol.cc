// The attach protocol's request and reply (HotSpot's attachListener_linux.cpp).
#include "runtimes/jvm/attach_protocol.h"

#include <charconv>

namespace memvisor {

Result<std::string> attach_request(std::string_view command, std::string_view arg0,
                                   std::string_view arg1, std::string_view arg2) {
  constexpr size_t kMaxArgument = 1024;
  std::string out("1", 2);  // the version and its NUL
  for (std::string_view part : {command, arg0, arg1, arg2}) {
    if (part.size() > kMaxArgument)
      return Error{"attach: an argument longer than 1024 bytes: " + std::string(part.substr(0, 80)),
                   0};
    if (part.find('\0') != std::string_view::npos)
      return Error{"attach: an argument holds a NUL byte", 0};
    out += part;
    out += '\0';
  }
  return out;
}

Result<AttachReply> parse_attach_reply(std::string_view bytes) {
  if (bytes.empty()) return Error{"the JVM closed the attach connection without a reply", 0};
  const size_t newline = bytes.find('\n');
  std::string_view first = bytes.substr(0, newline);
  if (!first.empty() && first.back() == '\r') first.remove_suffix(1);
  AttachReply reply;
  const auto [end, error] = std::from_chars(first.data(), first.data() + first.size(), reply.code);
  if (error != std::errc() || end != first.data() + first.size() || first.empty())
    return Error{"not an attach reply: " + std::string(bytes.substr(0, 80)), 0};
  if (newline != std::string_view::npos) reply.output = std::string(bytes.substr(newline + 1));
  return reply;
}

std::string attach_reply_text(const AttachReply& reply) {
  std::string text;
  for (char c : reply.output) {
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
    if (c == ' ' && (text.empty() || text.back() == ' ')) continue;
    text += c;
  }
  while (!text.empty() && text.back() == ' ') text.pop_back();
  if (text.size() > 300) text = text.substr(0, 297) + "...";
  if (text.empty()) text = "(no output)";
  return reply.code == 0 ? text : "code " + std::to_string(reply.code) + ": " + text;
}

}  // namespace memvisor
