// The gateway's HTTPS server (Boost.Beast on Asio and OpenSSL): the device listener (mutual TLS,
// device certificates from the dev CA) and the console listener (server TLS only). All socket I/O
// is asynchronous on one io_context thread; request handling (which may hash passwords or touch
// SQLite) runs on a small worker pool so no client can stall the others.
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>
#include <vector>

#include "kiosk/core/error.hpp"
#include "sync/gateway/api.hpp"
#include "sync/gateway/gateway_config.hpp"
#include "sync/gateway/pki.hpp"

namespace kiosk::gateway {

// A route that takes a larger (or smaller) body than [limits] max_body_bytes, such as the upload
// PATCH. The server reads the request head first, then applies the limit of the first matching
// rule; a body over it is answered with `too_large` and the connection is closed.
struct RouteBodyLimit {
  Listener listener = Listener::device;
  std::string method;       // exact, e.g. "PATCH"
  std::string path_prefix;  // the path (without query) starts with this
  std::size_t max_bytes = 0;
  ApiResponse too_large;
};

struct ServerOptions {
  GatewayConfig config;
  DevPkiPaths pki;                // server certificate and key; the CA that device certificates chain to
  std::filesystem::path run_dir;  // ports.json goes here
  std::vector<RouteBodyLimit> route_body_limits = {};
};

// Binds both listeners, writes RUN_DIR/ports.json, logs "listening", and serves until SIGTERM or
// SIGINT; then stops accepting, lets in-flight requests finish (up to shutdown_grace) and returns.
// LISTEN_FAILED / TLS_SETUP_FAILED / STORAGE_WRITE_FAILED before serving.
Result<void> serve(const ServerOptions& options, ApiHandler& handler);

}  // namespace kiosk::gateway
