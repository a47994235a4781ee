// HotSpot's attach protocol on Linux, the bytes only: a request is the protocol version "1", a
// command ("jcmd") and exactly three arguments, each ended by a NUL; the reply is a result code
// on the first line, then the command's output, until the JVM closes the connection.
#pragma once

#include <string>
#include <string_view>

#include "core/result.h"

namespace memvisor {

// "1\0jcmd\0GC.class_histogram\0\0\0" for ("jcmd", "GC.class_histogram"). HotSpot reads at most
// 1024 bytes per argument: a longer one is an error here rather than a cut command there.
Result<std::string> attach_request(std::string_view command, std::string_view arg0,
                                   std::string_view arg1 = {}, std::string_view arg2 = {});

struct AttachReply {
  int code = 0;        // 0: the JVM ran the command (jcmd's own errors are then in the output)
  std::string output;  // the rest, as the JVM wrote it
};

// An error for a reply that is not "<integer>\n..." (an empty reply: the JVM closed the
// connection without answering).
Result<AttachReply> parse_attach_reply(std::string_view bytes);

// A reply for an error message: its output on one line, at most 300 characters, with the code
// when it is not 0 ("code -1: java.lang.IllegalArgumentException: Unknown diagnostic command").
std::string attach_reply_text(const AttachReply& reply);

}  // namespace memvisor
