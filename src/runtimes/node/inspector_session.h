// A DevTools-protocol session with a Node.js process's inspector: its target from GET /json/list,
// then JSON-RPC calls over a WebSocket, every read bounded in time and size.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "core/result.h"
#include "runtimes/node/deadline_socket.h"
#include "runtimes/node/websocket_frame.h"

namespace memvisor::nodejs {

// A heap profile of a big heap is tens of MiB of JSON; past this the answer is refused.
inline constexpr size_t kMaxInspectorMessage = size_t{256} << 20;

// Pure: the path of the first target's webSocketDebuggerUrl in a /json/list answer
// ("ws://127.0.0.1:9229/UUID" -> "/UUID").
Result<std::string> debugger_path_from_json_list(std::string_view body);
// `j[key]` when it is a string, else "" (never throws).
std::string json_string_member(const nlohmann::json& j, const char* key);

// Pure: the body of a whole HTTP response (head and body as received) when its status is 200.
Result<std::string> http_ok_body(std::string_view response);

// GET /json/list from the inspector at address:port: its target's WebSocket path. Also tells
// whether a listener is an inspector at all, without attaching to it.
Result<std::string> inspector_target_path(const std::string& address, uint16_t port,
                                          Deadline deadline);

class InspectorSession {
 public:
  // GET /json/list from the inspector at address:port, then the WebSocket upgrade to its target.
  static Result<InspectorSession> open(const std::string& address, uint16_t port,
                                       Deadline deadline);

  // Sends a command and waits for its answer: the "result" object, or the protocol's error.
  // Events that arrive meanwhile are noted (see waiting_for_disconnect).
  Result<nlohmann::json> call(const std::string& method, const nlohmann::json& params,
                              Deadline deadline);
  // Reads whatever arrives until `until` (events only): false when the inspector closed.
  Result<bool> pump(Deadline until);
  // Node tells sessions that asked (NodeRuntime.notifyWhenWaitingForDisconnect) that its
  // process is exiting and waits for them to leave.
  bool waiting_for_disconnect() const { return waiting_for_disconnect_; }
  bool closed_by_peer() const { return closed_by_peer_; }
  // Waits for the inspector to close the connection (it does when it stops), up to `deadline`.
  bool wait_for_peer_close(Deadline deadline);
  // Sends a close frame (unless the peer already closed) and drops the connection.
  void close(Deadline deadline);

 private:
  InspectorSession(DeadlineSocket socket, std::string address, uint16_t port)
      : socket_(std::move(socket)), address_(std::move(address)), port_(port) {}
  // Reads once (until `deadline`) and handles every whole frame: pings answered, events noted,
  // answers kept for `call`. False at end of stream or close.
  Result<bool> read_some(Deadline deadline);
  Status send_frame(WsOpcode opcode, std::string_view payload, Deadline deadline);
  void note_event(const nlohmann::json& message);

  DeadlineSocket socket_;
  std::string address_;
  uint16_t port_ = 0;
  WsDecoder decoder_{kMaxInspectorMessage};
  int64_t next_id_ = 1;
  std::vector<nlohmann::json> answers_;  // answers not yet claimed
  bool waiting_for_disconnect_ = false;
  bool closed_by_peer_ = false;
};

}  // namespace memvisor::nodejs
