#include "tests/support/fault_proxy.hpp"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <list>
#include <mutex>
#include <optional>
#include <random>
#include <thread>
#include <vector>

namespace kiosk::testing {

namespace {

using Clock = std::chrono::steady_clock;

constexpr std::size_t kBufferBytes = 64 * 1024;

enum class CutKind { none, fixed, random };

// What the tests asked for in one direction. `generation` changes with every cut/reset/stall
// change so live connections know to re-arm.
struct DirectionFaults {
  CutKind cut_kind = CutKind::none;
  std::uint64_t cut_bytes = 0;
  std::uint64_t cut_min = 0;
  std::uint64_t cut_max = 0;
  std::mt19937_64 cut_generator;
  std::optional<std::uint64_t> reset_bytes;
  std::optional<std::uint64_t> stall_bytes;
  std::chrono::milliseconds stall_duration{0};
  std::uint64_t throttle_bytes_per_second = 0;
  std::uint64_t generation = 0;
};

// One direction of one connection: bytes read from `source` wait in `buffer` until written to the
// destination.
struct Flow {
  std::vector<char> buffer = std::vector<char>(kBufferBytes);
  std::size_t begin = 0;
  std::size_t end = 0;
  bool source_eof = false;
  bool destination_shut = false;
  std::uint64_t armed_generation = ~std::uint64_t{0};
  std::uint64_t forwarded_since_armed = 0;
  std::optional<std::uint64_t> cut_at;
  std::optional<std::uint64_t> reset_at;
  std::optional<std::uint64_t> stall_at;
  std::chrono::milliseconds stall_duration{0};
  std::optional<Clock::time_point> stalled_until;

  [[nodiscard]] bool has_pending() const { return begin < end; }
  [[nodiscard]] bool finished() const { return source_eof && !has_pending(); }
};

struct Connection {
  int client = -1;
  int server = -1;
  bool connecting = true;
  std::array<Flow, 2> flows;

  [[nodiscard]] int source_of(Direction direction) const {
    return direction == Direction::client_to_server ? client : server;
  }
  [[nodiscard]] int destination_of(Direction direction) const {
    return direction == Direction::client_to_server ? server : client;
  }
};

struct TokenBucket {
  std::uint64_t rate = 0;  // bytes per second; 0 = unlimited
  double tokens = 0;
  Clock::time_point refilled = Clock::now();

  // A burst of 1/50 s keeps the rate smooth without waking for every few bytes.
  [[nodiscard]] double capacity() const { return std::max(1.0, static_cast<double>(rate) / 50.0); }
};

void set_linger_zero(int fd) {
  linger option{};
  option.l_onoff = 1;
  option.l_linger = 0;
  ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &option, sizeof option);
}

void close_fd(int& fd, bool with_reset) {
  if (fd < 0) return;
  if (with_reset) set_linger_zero(fd);
  ::close(fd);
  fd = -1;
}

std::string errno_text(int error_number) { return std::strerror(error_number); }

std::uint64_t draw_in_range(std::mt19937_64& generator, std::uint64_t low, std::uint64_t high) {
  // Modulo rather than uniform_int_distribution: its output is not specified across standard
  // libraries, and reproducible cut points matter more here than a perfectly flat distribution.
  const std::uint64_t span = high - low + 1;
  return span == 0 ? generator() : low + generator() % span;
}

}  // namespace

const char* direction_name(Direction direction) {
  return direction == Direction::client_to_server ? "client-to-server" : "server-to-client";
}

struct FaultProxy::Impl {
  sockaddr_storage target{};
  socklen_t target_length = 0;
  int listener = -1;
  int wake_read = -1;
  int wake_write = -1;
  std::atomic<bool> stopping{false};
  std::thread thread;

  mutable std::mutex config_mutex;
  std::array<DirectionFaults, 2> faults;
  bool refuse = false;

  std::atomic<std::uint64_t> connections_accepted{0};
  std::atomic<std::uint64_t> connections_refused{0};
  std::atomic<std::uint64_t> target_connect_failures{0};
  std::atomic<std::uint64_t> open_connections{0};
  std::array<std::atomic<std::uint64_t>, 2> bytes_forwarded{};
  std::atomic<std::uint64_t> cuts_fired{0};
  std::atomic<std::uint64_t> resets_fired{0};
  std::atomic<std::uint64_t> stalls_fired{0};

  // Owned by the forwarding thread only.
  std::list<Connection> connections;
  std::array<TokenBucket, 2> buckets;

  void wake() const {
    const char byte = 1;
    // A full pipe already guarantees a wake-up, so a failed write needs no handling.
    [[maybe_unused]] const auto written = ::write(wake_write, &byte, 1);
  }

  template <class Change>
  void change_faults(Direction direction, Change change) {
    {
      const std::lock_guard lock(config_mutex);
      DirectionFaults& entry = faults[static_cast<int>(direction)];
      change(entry);
      ++entry.generation;
    }
    wake();
  }

  void run();
  void accept_new();
  void arm(Flow& flow, DirectionFaults& config);
  void refresh_faults();
  [[nodiscard]] std::uint64_t readable_bytes(const Flow& flow, Direction direction) const;
  [[nodiscard]] bool wants_read(const Connection& connection, Direction direction, Clock::time_point now) const;
  [[nodiscard]] bool wants_write(const Connection& connection, Direction direction, Clock::time_point now) const;
  // These return false when they closed the connection.
  bool finish_connect(Connection& connection);
  bool write_pending(Connection& connection, Direction direction);
  bool read_source(Connection& connection, Direction direction);
  bool apply_thresholds(Connection& connection, Direction direction);
  void close_connection(Connection& connection, bool with_reset);
  void refill_buckets(Clock::time_point now);
};

void FaultProxy::Impl::arm(Flow& flow, DirectionFaults& config) {
  flow.armed_generation = config.generation;
  flow.forwarded_since_armed = 0;
  flow.stalled_until.reset();
  flow.cut_at.reset();
  if (config.cut_kind == CutKind::fixed) flow.cut_at = config.cut_bytes;
  if (config.cut_kind == CutKind::random) {
    flow.cut_at = draw_in_range(config.cut_generator, config.cut_min, config.cut_max);
  }
  flow.reset_at = config.reset_bytes;
  flow.stall_at = config.stall_bytes;
  flow.stall_duration = config.stall_duration;
}

void FaultProxy::Impl::refresh_faults() {
  std::vector<Connection*> to_check;
  {
    const std::lock_guard lock(config_mutex);
    for (Connection& connection : connections) {
      for (int index = 0; index < 2; ++index) {
        if (connection.flows[index].armed_generation != faults[index].generation) {
          arm(connection.flows[index], faults[index]);
          to_check.push_back(&connection);
        }
      }
    }
    for (int index = 0; index < 2; ++index) {
      if (buckets[index].rate != faults[index].throttle_bytes_per_second) {
        buckets[index].rate = faults[index].throttle_bytes_per_second;
        buckets[index].tokens = buckets[index].capacity();
        buckets[index].refilled = Clock::now();
      }
    }
  }
  // A threshold of 0 fires as soon as it is armed.
  for (Connection* connection : to_check) {
    if (connection->client < 0) continue;
    if (apply_thresholds(*connection, Direction::client_to_server)) {
      apply_thresholds(*connection, Direction::server_to_client);
    }
  }
}

void FaultProxy::Impl::refill_buckets(Clock::time_point now) {
  for (TokenBucket& bucket : buckets) {
    if (bucket.rate == 0) continue;
    const std::chrono::duration<double> elapsed = now - bucket.refilled;
    bucket.tokens = std::min(bucket.capacity(), bucket.tokens + elapsed.count() * static_cast<double>(bucket.rate));
    bucket.refilled = now;
  }
}

std::uint64_t FaultProxy::Impl::readable_bytes(const Flow& flow, Direction direction) const {
  std::uint64_t allowed = kBufferBytes;
  // Read no further than the next threshold so a fault fires after exactly that many bytes.
  for (const auto& threshold : {flow.cut_at, flow.reset_at, flow.stall_at}) {
    if (threshold && *threshold > flow.forwarded_since_armed) {
      allowed = std::min(allowed, *threshold - flow.forwarded_since_armed);
    }
  }
  const TokenBucket& bucket = buckets[static_cast<int>(direction)];
  if (bucket.rate != 0) allowed = std::min(allowed, static_cast<std::uint64_t>(bucket.tokens));
  return allowed;
}

bool FaultProxy::Impl::wants_read(const Connection& connection, Direction direction, Clock::time_point now) const {
  const Flow& flow = connection.flows[static_cast<int>(direction)];
  if (connection.connecting || flow.source_eof || flow.has_pending()) return false;
  if (flow.stalled_until && *flow.stalled_until > now) return false;
  return readable_bytes(flow, direction) > 0;
}

bool FaultProxy::Impl::wants_write(const Connection& connection, Direction direction, Clock::time_point now) const {
  const Flow& flow = connection.flows[static_cast<int>(direction)];
  if (connection.connecting || !flow.has_pending()) return false;
  return !(flow.stalled_until && *flow.stalled_until > now);
}

void FaultProxy::Impl::close_connection(Connection& connection, bool with_reset) {
  if (connection.client < 0) return;
  close_fd(connection.client, with_reset);
  close_fd(connection.server, with_reset);
  --open_connections;
}

bool FaultProxy::Impl::apply_thresholds(Connection& connection, Direction direction) {
  Flow& flow = connection.flows[static_cast<int>(direction)];
  const std::uint64_t forwarded = flow.forwarded_since_armed;
  if (flow.reset_at && forwarded >= *flow.reset_at) {
    ++resets_fired;
    close_connection(connection, true);
    return false;
  }
  if (flow.cut_at && forwarded >= *flow.cut_at) {
    ++cuts_fired;
    close_connection(connection, false);
    return false;
  }
  if (flow.stall_at && forwarded >= *flow.stall_at) {
    ++stalls_fired;
    flow.stall_at.reset();  // once per connection and arming
    flow.stalled_until = Clock::now() + flow.stall_duration;
  }
  return true;
}

bool FaultProxy::Impl::finish_connect(Connection& connection) {
  int error = 0;
  socklen_t length = sizeof error;
  if (::getsockopt(connection.server, SOL_SOCKET, SO_ERROR, &error, &length) != 0) error = errno;
  if (error != 0) {
    ++target_connect_failures;
    close_connection(connection, true);
    return false;
  }
  connection.connecting = false;
  return true;
}

bool FaultProxy::Impl::write_pending(Connection& connection, Direction direction) {
  Flow& flow = connection.flows[static_cast<int>(direction)];
  const ssize_t sent = ::send(connection.destination_of(direction), flow.buffer.data() + flow.begin,
                              flow.end - flow.begin, MSG_NOSIGNAL);
  if (sent < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return true;
    close_connection(connection, true);  // the destination is gone: pass the reset on
    return false;
  }
  flow.begin += static_cast<std::size_t>(sent);
  flow.forwarded_since_armed += static_cast<std::uint64_t>(sent);
  bytes_forwarded[static_cast<int>(direction)] += static_cast<std::uint64_t>(sent);
  if (!flow.has_pending()) flow.begin = flow.end = 0;
  return apply_thresholds(connection, direction);
}

bool FaultProxy::Impl::read_source(Connection& connection, Direction direction) {
  Flow& flow = connection.flows[static_cast<int>(direction)];
  const std::uint64_t allowed = readable_bytes(flow, direction);
  if (allowed == 0) return true;
  const ssize_t got = ::recv(connection.source_of(direction), flow.buffer.data(), allowed, 0);
  if (got < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return true;
    close_connection(connection, true);
    return false;
  }
  if (got == 0) {
    flow.source_eof = true;
    return true;
  }
  flow.begin = 0;
  flow.end = static_cast<std::size_t>(got);
  TokenBucket& bucket = buckets[static_cast<int>(direction)];
  if (bucket.rate != 0) bucket.tokens -= static_cast<double>(got);
  return true;
}

void FaultProxy::Impl::accept_new() {
  for (;;) {
    const int client = ::accept4(listener, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (client < 0) return;  // EAGAIN: nothing more queued
    bool refusing = false;
    {
      const std::lock_guard lock(config_mutex);
      refusing = refuse;
    }
    if (refusing) {
      ++connections_refused;
      int fd = client;
      close_fd(fd, true);
      continue;
    }
    ++connections_accepted;
    ++open_connections;
    Connection& connection = connections.emplace_back();
    connection.client = client;
    connection.server = ::socket(target.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (connection.server < 0 ||
        (::connect(connection.server, reinterpret_cast<const sockaddr*>(&target), target_length) != 0 &&
         errno != EINPROGRESS)) {
      ++target_connect_failures;
      close_connection(connection, true);
      continue;
    }
  }
}

void FaultProxy::Impl::run() {
  std::vector<pollfd> polled;
  while (!stopping) {
    refresh_faults();
    std::erase_if(connections, [](const Connection& connection) { return connection.client < 0; });

    const Clock::time_point now = Clock::now();
    refill_buckets(now);
    polled.clear();
    polled.push_back({wake_read, POLLIN, 0});
    polled.push_back({listener, POLLIN, 0});
    int timeout_ms = -1;
    auto wake_within = [&timeout_ms](Clock::duration delay) {
      const auto ms = std::chrono::ceil<std::chrono::milliseconds>(delay).count();
      const int bounded = static_cast<int>(std::clamp<long long>(ms, 1, 1000));
      timeout_ms = timeout_ms < 0 ? bounded : std::min(timeout_ms, bounded);
    };
    for (const Connection& connection : connections) {
      short client_events = 0;
      short server_events = connection.connecting ? POLLOUT : 0;
      for (const Direction direction : {Direction::client_to_server, Direction::server_to_client}) {
        const bool towards_server = direction == Direction::client_to_server;
        if (wants_read(connection, direction, now)) (towards_server ? client_events : server_events) |= POLLIN;
        if (wants_write(connection, direction, now)) (towards_server ? server_events : client_events) |= POLLOUT;
        const Flow& flow = connection.flows[static_cast<int>(direction)];
        if (flow.stalled_until && *flow.stalled_until > now) wake_within(*flow.stalled_until - now);
        const TokenBucket& bucket = buckets[static_cast<int>(direction)];
        if (!connection.connecting && bucket.rate != 0 && !flow.source_eof && !flow.has_pending() &&
            bucket.tokens < 1.0) {
          wake_within(std::chrono::duration_cast<Clock::duration>(
              std::chrono::duration<double>((1.0 - bucket.tokens) / static_cast<double>(bucket.rate))));
        }
      }
      // fd -1 makes poll skip the entry: a hung-up socket we are not using must not spin the loop.
      polled.push_back({client_events != 0 ? connection.client : -1, client_events, 0});
      polled.push_back({server_events != 0 ? connection.server : -1, server_events, 0});
    }

    if (::poll(polled.data(), polled.size(), timeout_ms) < 0 && errno != EINTR) break;
    if (polled[0].revents != 0) {
      char drained[64];
      while (::read(wake_read, drained, sizeof drained) > 0) {
      }
    }
    if (stopping) break;

    std::size_t index = 2;
    for (Connection& connection : connections) {
      const short client_revents = polled[index++].revents;
      const short server_revents = polled[index++].revents;
      if (connection.connecting) {
        if (server_revents != 0 && !finish_connect(connection)) continue;
        if (connection.connecting) continue;
      }
      bool open = true;
      for (const Direction direction : {Direction::client_to_server, Direction::server_to_client}) {
        if (!open) break;
        const bool towards_server = direction == Direction::client_to_server;
        const short source_revents = towards_server ? client_revents : server_revents;
        const short destination_revents = towards_server ? server_revents : client_revents;
        Flow& flow = connection.flows[static_cast<int>(direction)];
        if (destination_revents != 0 && flow.has_pending()) open = write_pending(connection, direction);
        if (open && source_revents != 0 && !flow.has_pending() && !flow.source_eof) {
          open = read_source(connection, direction);
        }
        if (open && flow.finished() && !flow.destination_shut) {
          ::shutdown(connection.destination_of(direction), SHUT_WR);
          flow.destination_shut = true;
        }
      }
      if (open && connection.flows[0].finished() && connection.flows[1].finished()) {
        close_connection(connection, false);
      }
    }
    // Connections that became ready this round (first poll) are picked up next round.
    accept_new();
  }
  for (Connection& connection : connections) close_connection(connection, true);
  connections.clear();
}

Result<std::unique_ptr<FaultProxy>> FaultProxy::start(const std::string& target_host, std::uint16_t target_port) {
  auto impl = std::make_unique<Impl>();
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const std::string service = std::to_string(target_port);
  if (const int status = ::getaddrinfo(target_host.c_str(), service.c_str(), &hints, &found); status != 0) {
    return fail("FAULT_PROXY_TARGET_UNRESOLVED",
                "cannot resolve the proxy target host: " + std::string(::gai_strerror(status)));
  }
  std::memcpy(&impl->target, found->ai_addr, found->ai_addrlen);
  impl->target_length = found->ai_addrlen;
  ::freeaddrinfo(found);

  int wake[2];
  if (::pipe2(wake, O_CLOEXEC | O_NONBLOCK) != 0) {
    return fail("FAULT_PROXY_SOCKET", "cannot create the wake-up pipe: " + errno_text(errno));
  }
  impl->wake_read = wake[0];
  impl->wake_write = wake[1];

  impl->listener = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  socklen_t length = sizeof address;
  if (impl->listener < 0 || ::bind(impl->listener, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      ::listen(impl->listener, 128) != 0 ||
      ::getsockname(impl->listener, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    const int error = errno;
    close_fd(impl->listener, false);
    close_fd(impl->wake_read, false);
    close_fd(impl->wake_write, false);
    return fail("FAULT_PROXY_SOCKET", "cannot listen on 127.0.0.1: " + errno_text(error));
  }
  const auto port = ntohs(address.sin_port);
  Impl* loop = impl.get();
  impl->thread = std::thread([loop] { loop->run(); });
  return std::unique_ptr<FaultProxy>(new FaultProxy(std::move(impl), port));
}

FaultProxy::FaultProxy(std::unique_ptr<Impl> impl, std::uint16_t port) : impl_(std::move(impl)), port_(port) {}

FaultProxy::~FaultProxy() {
  impl_->stopping = true;
  impl_->wake();
  if (impl_->thread.joinable()) impl_->thread.join();
  close_fd(impl_->listener, false);
  close_fd(impl_->wake_read, false);
  close_fd(impl_->wake_write, false);
}

void FaultProxy::cut_after(Direction direction, std::uint64_t bytes) {
  impl_->change_faults(direction, [bytes](DirectionFaults& entry) {
    entry.cut_kind = CutKind::fixed;
    entry.cut_bytes = bytes;
  });
}

void FaultProxy::cut_randomly(Direction direction, std::uint64_t min_bytes, std::uint64_t max_bytes,
                              std::uint64_t seed) {
  if (min_bytes > max_bytes) std::swap(min_bytes, max_bytes);
  impl_->change_faults(direction, [=](DirectionFaults& entry) {
    entry.cut_kind = CutKind::random;
    entry.cut_min = min_bytes;
    entry.cut_max = max_bytes;
    entry.cut_generator.seed(seed);
  });
}

void FaultProxy::reset_after(Direction direction, std::uint64_t bytes) {
  impl_->change_faults(direction, [bytes](DirectionFaults& entry) { entry.reset_bytes = bytes; });
}

void FaultProxy::stall_after(Direction direction, std::uint64_t bytes, std::chrono::milliseconds duration) {
  impl_->change_faults(direction, [=](DirectionFaults& entry) {
    entry.stall_bytes = bytes;
    entry.stall_duration = duration;
  });
}

void FaultProxy::throttle(Direction direction, std::uint64_t bytes_per_second) {
  // The throttle is not a per-connection threshold, so it leaves the armed faults alone.
  {
    const std::lock_guard lock(impl_->config_mutex);
    impl_->faults[static_cast<int>(direction)].throttle_bytes_per_second = bytes_per_second;
  }
  impl_->wake();
}

void FaultProxy::refuse_connections(bool refuse) {
  {
    const std::lock_guard lock(impl_->config_mutex);
    impl_->refuse = refuse;
  }
  impl_->wake();
}

void FaultProxy::clear_faults() {
  {
    const std::lock_guard lock(impl_->config_mutex);
    impl_->refuse = false;
    for (DirectionFaults& entry : impl_->faults) {
      const std::uint64_t next_generation = entry.generation + 1;
      entry = DirectionFaults{};
      entry.generation = next_generation;
    }
  }
  impl_->wake();
}

FaultProxyCounters FaultProxy::counters() const {
  FaultProxyCounters counters;
  counters.connections_accepted = impl_->connections_accepted;
  counters.connections_refused = impl_->connections_refused;
  counters.target_connect_failures = impl_->target_connect_failures;
  counters.open_connections = impl_->open_connections;
  counters.bytes_client_to_server = impl_->bytes_forwarded[0];
  counters.bytes_server_to_client = impl_->bytes_forwarded[1];
  counters.cuts_fired = impl_->cuts_fired;
  counters.resets_fired = impl_->resets_fired;
  counters.stalls_fired = impl_->stalls_fired;
  return counters;
}

}  // namespace kiosk::testing
