// HotSpot's dynamic attach, spoken by memvisor itself (no jcmd, no JDK): start the JVM's attach
// listener when it is not running yet (a trigger file and SIGQUIT), then one command per
// connection to /tmp/.java_pid<NSPID> in the JVM's own file system. Every wait ends at the
// caller's deadline.
#pragma once

#include <chrono>
#include <string_view>

#include "core/result.h"
#include "runtimes/jvm/attach_protocol.h"
#include "runtimes/jvm/jvm_target.h"

namespace memvisor {

using Deadline = std::chrono::steady_clock::time_point;

// Makes sure the attach socket exists. When it does not: .attach_pid<NSPID> in the JVM's working
// directory (else its /tmp), owned by the JVM's user, then SIGQUIT, which HotSpot takes as "start
// the listener" when it finds that file (a thread dump otherwise: hence the checks of
// inspect_jvm() and of the SIGQUIT handler before it is sent), then the socket is awaited at most
// `wait`; the trigger file is removed either way.
Status start_attach_listener(const JvmTarget& target, Deadline deadline,
                             std::chrono::milliseconds wait = std::chrono::seconds(5));

// One jcmd command line ("GC.class_histogram", "JFR.start name=x ...") on a fresh connection;
// the whole reply (at most 64 MiB), read by the deadline.
Result<AttachReply> run_jcmd(const JvmTarget& target, std::string_view command_line,
                             Deadline deadline);

}  // namespace memvisor
