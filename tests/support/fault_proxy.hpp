// A TCP fault proxy for the upload tests: listens on 127.0.0.1 (port chosen by the kernel) and
// forwards every accepted connection to one target, injecting faults per direction. This kernel
// has no netem and toxiproxy is not packaged, so the tests bring their own (sync.md §4.1).
//
// One thread, plain POSIX sockets and poll(). Faults and counters may be changed and read from any
// thread while connections are live.
//
// Byte-threshold faults (cut, reset, stall) count the bytes *forwarded* in their direction on each
// connection since the connection opened or since the fault was (re)armed, whichever is later, so
// arming a fault on a live connection means "after N more bytes". Each fires at most once per
// connection and arming.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "kiosk/core/error.hpp"

namespace kiosk::testing {

enum class Direction { client_to_server = 0, server_to_client = 1 };

[[nodiscard]] const char* direction_name(Direction direction);

struct FaultProxyCounters {
  std::uint64_t connections_accepted = 0;  // forwarded to the target (or tried to)
  std::uint64_t connections_refused = 0;   // reset at once because refuse_connections(true)
  std::uint64_t target_connect_failures = 0;
  std::uint64_t open_connections = 0;
  std::uint64_t bytes_client_to_server = 0;
  std::uint64_t bytes_server_to_client = 0;
  std::uint64_t cuts_fired = 0;
  std::uint64_t resets_fired = 0;
  std::uint64_t stalls_fired = 0;

  [[nodiscard]] std::uint64_t faults_fired() const { return cuts_fired + resets_fired + stalls_fired; }
};

class FaultProxy {
 public:
  // Resolves target_host once, binds 127.0.0.1:0 and starts the forwarding thread.
  [[nodiscard]] static Result<std::unique_ptr<FaultProxy>> start(const std::string& target_host,
                                                                 std::uint16_t target_port);

  // Stops the thread and closes every socket (connections end with a reset).
  ~FaultProxy();
  FaultProxy(const FaultProxy&) = delete;
  FaultProxy& operator=(const FaultProxy&) = delete;

  [[nodiscard]] std::uint16_t port() const { return port_; }

  // Closes both sides after exactly `bytes` were forwarded in `direction`. The side that receives in
  // that direction gets those bytes, then EOF (the other side may see a reset instead, because TCP
  // turns a close with unread input into RST).
  void cut_after(Direction direction, std::uint64_t bytes);
  // Like cut_after with N drawn per connection from [min_bytes, max_bytes] (either order) by a
  // generator seeded with `seed`: the same seed and the same sequence of connections give the same
  // cut points.
  void cut_randomly(Direction direction, std::uint64_t min_bytes, std::uint64_t max_bytes, std::uint64_t seed);
  // Resets both sides (SO_LINGER 0, so the peers get ECONNRESET) after `bytes` were forwarded.
  void reset_after(Direction direction, std::uint64_t bytes);
  // Forwards nothing in `direction` for `duration` once `bytes` were forwarded, then carries on.
  void stall_after(Direction direction, std::uint64_t bytes, std::chrono::milliseconds duration);
  // Token bucket shared by all connections in `direction`; 0 removes the limit.
  void throttle(Direction direction, std::uint64_t bytes_per_second);
  // While true, accepted connections are reset at once instead of being forwarded.
  void refuse_connections(bool refuse);
  // Removes every fault and the throttle in both directions (refusal included).
  void clear_faults();

  [[nodiscard]] FaultProxyCounters counters() const;

 private:
  struct Impl;
  explicit FaultProxy(std::unique_ptr<Impl> impl, std::uint16_t port);

  std::unique_ptr<Impl> impl_;
  std::uint16_t port_ = 0;
};

}  // namespace kiosk::testing
