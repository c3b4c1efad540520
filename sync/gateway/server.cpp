#include "sync/gateway/server.hpp"

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "kiosk/core/log.hpp"

namespace kiosk::gateway {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

constexpr std::size_t kHeaderLimitBytes = 16 * 1024;
constexpr std::chrono::seconds kCloseTimeout{2};
constexpr std::size_t kMaxLoggedPathBytes = 128;

class Connection;

// Shared by every connection; `stopping` and `connections` are touched only on the I/O thread.
struct ServerState {
  ApiHandler& handler;
  const GatewayConfig& config;
  const std::vector<RouteBodyLimit>& route_body_limits;
  std::size_t largest_body_limit;  // what the parser allows until the route is known
  std::string server_header;
  std::atomic<std::size_t> live_connections{0};
  bool stopping = false;
  std::vector<std::weak_ptr<Connection>> connections;
};

std::string logged_path(std::string_view target) {
  const auto query = target.find('?');
  std::string_view path = query == std::string_view::npos ? target : target.substr(0, query);
  if (path.size() > kMaxLoggedPathBytes) path = path.substr(0, kMaxLoggedPathBytes);
  return std::string(path);
}

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(tcp::socket socket, ssl::context& tls, Listener listener, ServerState& state, asio::thread_pool& workers)
      : stream_(std::move(socket), tls), listener_(listener), state_(state), workers_(workers) {
    ++state_.live_connections;
    beast::error_code ignored;
    const auto remote = beast::get_lowest_layer(stream_).socket().remote_endpoint(ignored);
    peer_ = ignored ? std::string("unknown") : remote.address().to_string();
  }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection() {
    remove_sent_file();
    --state_.live_connections;
  }

  void start() {
    beast::get_lowest_layer(stream_).expires_after(state_.config.handshake_timeout);
    stream_.async_handshake(ssl::stream_base::server,
                            [self = shared_from_this()](beast::error_code ec) { self->on_handshake(ec); });
  }

  // Called at shutdown: a connection waiting for a request (or a handshake) is closed now; one that
  // is handling or answering a request finishes it and closes afterwards.
  void stop_if_idle() {
    if (busy_) return;
    beast::error_code ignored;
    beast::get_lowest_layer(stream_).socket().close(ignored);
  }

 private:
  void on_handshake(beast::error_code ec) {
    if (ec) {
      if (!state_.stopping) {
        log::warn("tls_handshake_refused",
                  {{"listener", std::string(listener_name(listener_))}, {"peer", peer_}, {"reason", ec.message()}});
      }
      close_now();
      return;
    }
    if (listener_ == Listener::device) {
      // The handshake already verified the chain to the device CA; the CN names the device.
      if (X509* peer_cert = SSL_get0_peer_certificate(stream_.native_handle()); peer_cert != nullptr) {
        device_id_ = certificate_common_name(peer_cert);
        if (auto pem = certificate_pem(peer_cert)) client_certificate_pem_ = std::move(*pem);
      }
    }
    read_request();
  }

  void read_request() {
    if (state_.stopping) {
      close_gracefully();
      return;
    }
    parser_.emplace();
    parser_->header_limit(kHeaderLimitBytes);
    // Beast checks Content-Length against the limit while parsing the head, before we know the
    // route; so the head is read under the largest limit and the route's own limit applied after.
    parser_->body_limit(state_.largest_body_limit);
    route_limit_ = nullptr;
    beast::get_lowest_layer(stream_).expires_after(state_.config.request_timeout);
    http::async_read_header(stream_, buffer_, *parser_,
                            [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_header(ec); });
  }

  const RouteBodyLimit* find_route_limit(const http::request<http::string_body>& head) const {
    const std::string path = logged_path(std::string(head.target()));
    for (const auto& rule : state_.route_body_limits) {
      if (rule.listener == listener_ && head.method_string() == rule.method && path.starts_with(rule.path_prefix)) {
        return &rule;
      }
    }
    return nullptr;
  }

  std::size_t body_limit() const {
    return route_limit_ != nullptr ? route_limit_->max_bytes : state_.config.max_body_bytes;
  }

  void send_body_too_large() {
    busy_ = true;
    if (route_limit_ != nullptr) {
      send(route_limit_->too_large, false);
      return;
    }
    send_error(400, "BODY_TOO_LARGE",
               "the request body is larger than " + std::to_string(state_.config.max_body_bytes) + " bytes");
  }

  void on_header(beast::error_code ec) {
    if (ec) {
      on_read(ec);
      return;
    }
    const auto& head = parser_->get();
    route_limit_ = find_route_limit(head);
    const std::size_t limit = body_limit();
    if (const auto length = parser_->content_length(); length && *length > limit) {
      started_ = Clock::now();
      method_ = std::string(head.method_string());
      path_ = logged_path(std::string(head.target()));
      send_body_too_large();
      return;
    }
    parser_->body_limit(limit);  // what is left for a chunked body
    if (!parser_->is_done() && beast::iequals(head[http::field::expect], "100-continue")) {
      // curl and other clients wait for this before sending a large body (else ~1 s per request).
      continue_response_ = {};
      continue_response_.version(11);
      continue_response_.result(http::status::continue_);
      http::async_write(stream_, continue_response_,
                        [self = shared_from_this()](beast::error_code write_ec, std::size_t) {
                          if (write_ec) {
                            self->close_now();
                            return;
                          }
                          self->read_body();
                        });
      return;
    }
    read_body();
  }

  void read_body() {
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_read(ec); });
  }

  void on_read(beast::error_code ec) {
    if (ec == http::error::end_of_stream) {
      close_gracefully();
      return;
    }
    if (ec) {
      started_ = Clock::now();
      if (ec == http::error::body_limit) {
        // Over even the largest limit while the head was read: the head is complete, find its route.
        if (route_limit_ == nullptr) route_limit_ = find_route_limit(parser_->get());
        method_ = std::string(parser_->get().method_string());
        path_ = logged_path(std::string(parser_->get().target()));
        send_body_too_large();
      } else if (ec == http::error::header_limit) {
        busy_ = true;
        send_error(400, "HEADERS_TOO_LARGE", "the request headers are larger than 16 KiB");
      } else if (ec.category() == http::make_error_code(http::error::bad_target).category() &&
                 ec != http::error::partial_message) {
        busy_ = true;
        send_error(400, "BAD_REQUEST", "the request is not valid HTTP/1.1");
      } else {
        // Timeouts, resets, truncated TLS: nothing to answer.
        if (ec == beast::error::timeout) {
          log::debug("connection_timeout", {{"listener", std::string(listener_name(listener_))}, {"peer", peer_}});
        }
        close_now();
      }
      return;
    }
    busy_ = true;
    started_ = Clock::now();
    auto& message = parser_->get();
    ApiRequest request;
    request.method = std::string(message.method_string());
    request.target = std::string(message.target());
    request.listener = listener_;
    request.device_id = device_id_;
    request.client_certificate_pem = client_certificate_pem_;
    request.authorization = std::string(message[http::field::authorization]);
    for (const auto& field : message) {
      request.headers.set(std::string(field.name_string()), std::string(field.value()));
    }
    request.body = std::move(message.body());
    method_ = request.method;
    path_ = logged_path(request.target);
    const bool keep_alive = message.keep_alive();
    asio::post(workers_, [self = shared_from_this(), request = std::move(request), keep_alive] {
      ApiResponse response = self->state_.handler.handle(request);
      auto executor = self->stream_.get_executor();
      asio::post(executor, [self, response = std::move(response), keep_alive]() mutable {
        self->send(std::move(response), keep_alive);
      });
    });
  }

  void send_error(unsigned status, std::string_view code, std::string_view message) {
    send(ApiResponse{status, error_body(code, message)}, false);
  }

  void send(ApiResponse api_response, bool keep_alive) {
    if (!api_response.body_file.empty() && !api_response.no_body) {
      send_file(std::move(api_response), keep_alive);
      return;
    }
    response_ = {};
    response_.version(11);
    response_.result(api_response.status);
    response_.set(http::field::server, state_.server_header);
    response_.set(http::field::cache_control, "no-store");
    for (const auto& [name, value] : api_response.headers) response_.set(name, value);
    response_.keep_alive(keep_alive && !state_.stopping);
    if (api_response.no_body) {
      // 204 has no Content-Length at all; an answer to HEAD says 0 (we do not compute the GET size).
      if (api_response.status != 204) response_.content_length(0);
    } else {
      response_.set(http::field::content_type, "application/json");
      response_.body() = std::move(api_response.body);
      response_.prepare_payload();
    }
    status_ = response_.result_int();
    keep_alive_ = response_.keep_alive();
    beast::get_lowest_layer(stream_).expires_after(state_.config.request_timeout);
    http::async_write(stream_, response_,
                      [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_write(ec); });
  }

  // The body comes from a file, read and written in pieces by Beast's file_body, so an archive of
  // any size costs a constant amount of memory.
  void send_file(ApiResponse api_response, bool keep_alive) {
    if (api_response.remove_body_file_after_send) file_to_remove_ = api_response.body_file;
    file_response_.emplace();
    auto& response = *file_response_;
    beast::error_code ec;
    response.body().open(api_response.body_file.c_str(), beast::file_mode::scan, ec);
    if (ec) {
      log::error("response_file_unreadable", {{"path", path_}, {"reason", ec.message()}});
      file_response_.reset();
      remove_sent_file();
      send_error(500, "INTERNAL_ERROR", "the gateway could not read the answer's file; see its log");
      return;
    }
    response.version(11);
    response.result(api_response.status);
    response.set(http::field::server, state_.server_header);
    response.set(http::field::cache_control, "no-store");
    for (const auto& [name, value] : api_response.headers) response.set(name, value);
    response.set(http::field::content_type, api_response.body_content_type);
    response.keep_alive(keep_alive && !state_.stopping);
    response.prepare_payload();
    status_ = response.result_int();
    keep_alive_ = response.keep_alive();
    // The request timeout covers the whole answer: a big archive needs longer than a JSON reply, so
    // the deadline is pushed on as long as the client keeps reading (see on_file_progress).
    beast::get_lowest_layer(stream_).expires_after(state_.config.request_timeout);
    file_serializer_.emplace(response);
    write_file_part();
  }

  void write_file_part() {
    http::async_write_some(stream_, *file_serializer_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec || self->file_serializer_->is_done()) {
        self->file_serializer_.reset();
        self->file_response_.reset();
        self->remove_sent_file();
        self->on_write(ec);
        return;
      }
      beast::get_lowest_layer(self->stream_).expires_after(self->state_.config.request_timeout);
      self->write_file_part();
    });
  }

  void remove_sent_file() {
    if (file_to_remove_.empty()) return;
    std::error_code ignored;
    std::filesystem::remove(file_to_remove_, ignored);
    file_to_remove_.clear();
  }

  void on_write(beast::error_code ec) {
    const auto duration_ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started_).count();
    const std::string listener(listener_name(listener_));
    const std::string status = std::to_string(status_);
    if (device_id_.empty()) {
      log::info("request", {{"method", method_},
                            {"path", path_},
                            {"status", status},
                            {"listener", listener},
                            {"duration_ms", std::to_string(duration_ms)}});
    } else {
      log::info("request", {{"method", method_},
                            {"path", path_},
                            {"status", status},
                            {"listener", listener},
                            {"duration_ms", std::to_string(duration_ms)},
                            {"device_id", device_id_}});
    }
    busy_ = false;
    method_.clear();
    path_.clear();
    if (ec) {
      close_now();
    } else if (!response_.keep_alive() && parser_ && !parser_->is_done()) {
      close_lingering();
    } else if (!keep_alive_) {
      close_gracefully();
    } else {
      read_request();
    }
  }

  // An answer sent before the request body was read (body too large, bad headers): closing at once
  // with unread bytes in the receive buffer makes the kernel send RST, which can destroy the answer
  // before the client reads it. So send FIN after the answer, discard what the client still sends
  // (raw TLS records: the TLS session is over) until it closes or kCloseTimeout passes, then close.
  void close_lingering() {
    beast::error_code ignored;
    auto& socket = beast::get_lowest_layer(stream_).socket();
    socket.shutdown(tcp::socket::shutdown_send, ignored);
    beast::get_lowest_layer(stream_).expires_after(kCloseTimeout);
    discard_until_closed();
  }

  void discard_until_closed() {
    beast::get_lowest_layer(stream_).async_read_some(asio::buffer(discard_buffer_),
                                                     [self = shared_from_this()](beast::error_code ec, std::size_t) {
                                                       if (ec) {
                                                         self->close_now();
                                                         return;
                                                       }
                                                       self->discard_until_closed();
                                                     });
  }

  void close_gracefully() {
    beast::get_lowest_layer(stream_).expires_after(kCloseTimeout);
    stream_.async_shutdown([self = shared_from_this()](beast::error_code) { self->close_now(); });
  }

  void close_now() {
    beast::error_code ignored;
    beast::get_lowest_layer(stream_).socket().shutdown(tcp::socket::shutdown_both, ignored);
    beast::get_lowest_layer(stream_).socket().close(ignored);
  }

  beast::ssl_stream<beast::tcp_stream> stream_;
  Listener listener_;
  ServerState& state_;
  asio::thread_pool& workers_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  http::response<http::string_body> response_;
  std::optional<http::response<http::file_body>> file_response_;
  std::optional<http::response_serializer<http::file_body>> file_serializer_;
  std::filesystem::path file_to_remove_;
  unsigned status_ = 0;
  bool keep_alive_ = false;
  http::response<http::empty_body> continue_response_;
  const RouteBodyLimit* route_limit_ = nullptr;
  std::string peer_;
  std::string device_id_;
  std::string client_certificate_pem_;
  std::string method_;
  std::string path_;
  std::array<char, 16 * 1024> discard_buffer_{};  // close_lingering() reads into it and forgets
  Clock::time_point started_{};
  bool busy_ = false;
};

class Acceptor {
 public:
  Acceptor(asio::io_context& io, ssl::context& tls, Listener listener, ServerState& state, asio::thread_pool& workers)
      : acceptor_(io), retry_timer_(io), tls_(tls), listener_(listener), state_(state), workers_(workers) {}

  Result<std::uint16_t> listen(const std::string& address, std::uint16_t port) {
    beast::error_code ec;
    const auto ip = asio::ip::make_address(address, ec);
    const std::string where = address + ":" + std::to_string(port);
    const std::string section = listener_ == Listener::device ? "[device_listener]" : "[console_listener]";
    if (ec) return fail("LISTEN_FAILED", "\"" + address + "\" is not an IP address; fix " + section + " address");
    const tcp::endpoint endpoint(ip, port);
    acceptor_.open(endpoint.protocol(), ec);
    if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(endpoint, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      return fail("LISTEN_FAILED", "cannot listen on " + where + " for the " + std::string(listener_name(listener_)) +
                                       " listener: " + ec.message() + "; is another gateway running? Change " +
                                       section + " port, or use 0");
    }
    const auto bound = acceptor_.local_endpoint(ec);
    if (ec) return fail("LISTEN_FAILED", "cannot read the bound port of " + where + ": " + ec.message());
    return bound.port();
  }

  void accept_next() {
    acceptor_.async_accept([this](beast::error_code ec, tcp::socket socket) {
      if (state_.stopping || ec == asio::error::operation_aborted) return;
      if (ec) {
        // For example out of file descriptors: wait a moment instead of spinning.
        log::warn("accept_failed", {{"listener", std::string(listener_name(listener_))}, {"reason", ec.message()}});
        retry_timer_.expires_after(std::chrono::milliseconds(100));
        retry_timer_.async_wait([this](beast::error_code timer_ec) {
          if (!timer_ec && !state_.stopping) accept_next();
        });
        return;
      }
      beast::error_code ignored;
      socket.set_option(tcp::no_delay(true), ignored);
      auto connection = std::make_shared<Connection>(std::move(socket), tls_, listener_, state_, workers_);
      std::erase_if(state_.connections, [](const auto& weak) { return weak.expired(); });
      state_.connections.push_back(connection);
      connection->start();
      accept_next();
    });
  }

  void close() {
    beast::error_code ignored;
    acceptor_.close(ignored);
    retry_timer_.cancel();
  }

 private:
  tcp::acceptor acceptor_;
  asio::steady_timer retry_timer_;
  ssl::context& tls_;
  Listener listener_;
  ServerState& state_;
  asio::thread_pool& workers_;
};

Result<void> configure_tls(ssl::context& tls, const DevPkiPaths& pki, bool require_device_cert) {
  beast::error_code ec;
  SSL_CTX* native = tls.native_handle();
  SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
  tls.set_options(ssl::context::default_workarounds | ssl::context::no_compression, ec);
  if (!ec) tls.use_certificate_chain_file(pki.server_cert.string(), ec);
  if (!ec) tls.use_private_key_file(pki.server_key.string(), ssl::context::pem, ec);
  if (ec) {
    return fail("TLS_SETUP_FAILED",
                "cannot load the server certificate " + pki.server_cert.string() + " or key: " + ec.message());
  }
  if (!require_device_cert) return {};
  tls.load_verify_file(pki.ca_cert.string(), ec);
  if (!ec) tls.set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert, ec);
  if (ec) return fail("TLS_SETUP_FAILED", "cannot load the device CA " + pki.ca_cert.string() + ": " + ec.message());
  // Only certificates made for TLS clients (clientAuth) are device certificates.
  SSL_CTX_set_purpose(native, X509_PURPOSE_SSL_CLIENT);
  // Tell clients which CA we accept, so a kiosk with several identities picks the right one.
  if (STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(pki.ca_cert.c_str()); names != nullptr) {
    SSL_CTX_set_client_CA_list(native, names);
  }
  // Needed for session resumption when client certificates are verified.
  static constexpr unsigned char session_context[] = "csdc-gateway-device";
  SSL_CTX_set_session_id_context(native, session_context, sizeof session_context - 1);
  return {};
}

std::string ports_json(std::uint16_t device_port, std::uint16_t console_port) {
  return "{\"device\":" + std::to_string(device_port) + ",\"console\":" + std::to_string(console_port) + "}\n";
}

}  // namespace

Result<void> serve(const ServerOptions& options, ApiHandler& handler) {
  const GatewayConfig& config = options.config;
  // Declaration order matters: TLS contexts and the shared state outlive the io_context (whose
  // destructor frees pending handlers that own connections); the worker pool is drained first.
  ssl::context device_tls(ssl::context::tls_server);
  ssl::context console_tls(ssl::context::tls_server);
  if (auto ok = configure_tls(device_tls, options.pki, true); !ok) return ok;
  if (auto ok = configure_tls(console_tls, options.pki, false); !ok) return ok;
  std::size_t largest_body_limit = config.max_body_bytes;
  for (const auto& rule : options.route_body_limits) largest_body_limit = std::max(largest_body_limit, rule.max_bytes);
  ServerState state{
      handler, config, options.route_body_limits, largest_body_limit, "csdc-gateway/" KIOSK_GATEWAY_VERSION, {},
      false,   {}};

  asio::io_context io(1);
  asio::thread_pool workers(2);
  Acceptor device_acceptor(io, device_tls, Listener::device, state, workers);
  Acceptor console_acceptor(io, console_tls, Listener::console, state, workers);
  auto device_port = device_acceptor.listen(config.device_address, config.device_port);
  if (!device_port) return std::unexpected(device_port.error());
  auto console_port = console_acceptor.listen(config.console_address, config.console_port);
  if (!console_port) return std::unexpected(console_port.error());

  // Catch SIGTERM before ports.json tells anyone we are up: a supervisor (or a test) that stops us
  // the moment the file appears must get a clean stop, not the default "killed by signal".
  asio::signal_set signals(io, SIGINT, SIGTERM);

  std::error_code dir_error;
  std::filesystem::create_directories(options.run_dir, dir_error);
  if (dir_error) {
    return fail("STORAGE_WRITE_FAILED", "cannot create " + options.run_dir.string() + ": " + dir_error.message());
  }
  if (auto written =
          write_file_atomically(options.run_dir / "ports.json", ports_json(*device_port, *console_port), 0644);
      !written) {
    return written;
  }

  asio::steady_timer drain_timer(io);
  Clock::time_point drain_deadline{};
  std::size_t abandoned = 0;
  // Polls until every connection is gone or the grace period is over, then stops the loop.
  std::function<void()> wait_for_drain = [&] {
    const std::size_t live = state.live_connections.load();
    if (live == 0 || Clock::now() >= drain_deadline) {
      abandoned = live;
      io.stop();
      return;
    }
    drain_timer.expires_after(std::chrono::milliseconds(20));
    drain_timer.async_wait([&](beast::error_code ec) {
      if (!ec) wait_for_drain();
    });
  };
  signals.async_wait([&](beast::error_code ec, int signal_number) {
    if (ec) return;
    log::info("stopping", {{"signal", signal_number == SIGTERM ? "SIGTERM" : "SIGINT"}});
    state.stopping = true;
    device_acceptor.close();
    console_acceptor.close();
    for (const auto& weak : state.connections) {
      if (auto connection = weak.lock()) connection->stop_if_idle();
    }
    drain_deadline = Clock::now() + config.shutdown_grace;
    wait_for_drain();
  });

  device_acceptor.accept_next();
  console_acceptor.accept_next();
  log::info("listening", {{"device_address", config.device_address},
                          {"device_port", std::to_string(*device_port)},
                          {"console_address", config.console_address},
                          {"console_port", std::to_string(*console_port)}});
  try {
    io.run();
  } catch (const std::exception& error) {
    // A handler threw, which none should; report it as a failed run rather than crash.
    workers.join();
    return fail("SERVER_FAILED", std::string("the server loop failed: ") + error.what());
  }
  workers.join();
  if (abandoned > 0) {
    log::warn("shutdown_abandoned_connections", {{"count", std::to_string(abandoned)}});
  }
  return {};
}

}  // namespace kiosk::gateway
