// Device key loading. Token keys go through the OpenSSL "pkcs11" engine (libengine-pkcs11-openssl,
// libp11): libcurl 7.88 would treat a pkcs11: key as an engine key itself but then prompts for a PIN
// and cannot be told which module to use, so the key is loaded here and handed to OpenSSL directly.
// The ENGINE API is deprecated in OpenSSL 3, but pkcs11-provider is not in Debian 12 main (sync.md §6);
// the engine is the packaged way to reach a token. Silence the deprecation for this file only.
#define OPENSSL_SUPPRESS_DEPRECATED

#include "sync/client/device_key.hpp"

#include <openssl/engine.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/ui.h>

#include <fstream>
#include <map>
#include <mutex>
#include <sstream>

#include "sync/client/staff_client.hpp"  // wipe_secret

namespace kiosk::sync {
namespace {

// PKCS#11 return values (pkcs11t.h) that mean "the PIN is wrong, expired or blocked"; libp11 puts the
// module's CK_RV in the OpenSSL error queue as the reason code.
constexpr unsigned long kCkrPinIncorrect = 0xA0;
constexpr unsigned long kCkrPinLocked = 0xA4;
constexpr unsigned long kCkrUserNotLoggedIn = 0x101;

struct EngineSlot {
  ENGINE* engine = nullptr;
};

// One engine per module for the life of the process, never finished nor freed on purpose: sync.md §6
// saw SoftHSM crash at exit when the PKCS#11 layer was torn down from OpenSSL's at-exit cleanup (with
// pkcs11-provider; not reproduced with this engine, see README). Never finishing it means C_Finalize is
// never called late; the kernel reclaims the module at exit.
std::mutex engine_mutex;
std::map<std::string, EngineSlot>& engines() {
  static auto* slots = new std::map<std::string, EngineSlot>();  // leaked for the same reason
  return *slots;
}

// Never prompt: a kiosk has no one at a terminal, and OpenSSL's default UI reads /dev/tty (blocking).
int refuse_prompt(UI*, UI_STRING*) { return 0; }
UI_METHOD* no_prompt_method() {
  static UI_METHOD* method = [] {
    UI_METHOD* created = UI_create_method("kiosk-no-prompt");
    UI_method_set_reader(created, refuse_prompt);
    return created;
  }();
  return method;
}

std::string openssl_errors() {
  std::string text;
  while (const unsigned long code = ERR_get_error()) {
    char buffer[256];
    ERR_error_string_n(code, buffer, sizeof buffer);
    if (!text.empty()) text += "; ";
    text += buffer;
  }
  return text;
}

// Drains the queue; true when a PKCS#11 PIN failure is in it.
bool errors_mention_pin() {
  bool pin = false;
  while (const unsigned long code = ERR_get_error()) {
    const unsigned long reason = ERR_GET_REASON(code);
    if ((reason >= kCkrPinIncorrect && reason <= kCkrPinLocked) || reason == kCkrUserNotLoggedIn) pin = true;
    char buffer[256];
    ERR_error_string_n(code, buffer, sizeof buffer);
    const std::string_view text(buffer);
    if (text.find("PIN") != std::string_view::npos || text.find("Login failed") != std::string_view::npos) pin = true;
  }
  return pin;
}

Result<openssl::Key> load_pem_key(const std::string& file) {
  std::FILE* handle = std::fopen(file.c_str(), "rb");
  if (handle == nullptr) {
    return fail("DEVICE_KEY_UNREADABLE",
                "the device key file \"" + file + "\" cannot be opened; check the path and its permissions");
  }
  EVP_PKEY* key = PEM_read_PrivateKey(handle, nullptr, nullptr, nullptr);
  std::fclose(handle);
  if (key == nullptr) {
    ERR_clear_error();
    return fail("DEVICE_KEY_UNREADABLE",
                "the device key file \"" + file + "\" is not an unencrypted PEM private key; re-provision the device");
  }
  return openssl::Key(key);
}

Result<std::string> read_pin(const std::filesystem::path& pin_file) {
  std::ifstream in(pin_file, std::ios::binary);
  if (!in) {
    return fail("DEVICE_KEY_PIN_REFUSED",
                "the token PIN file \"" + pin_file.string() + "\" cannot be read; check the path and its permissions");
  }
  std::string pin;
  pin.reserve(256);  // no reallocation while reading, so no stray copy of the PIN is left behind
  char c = 0;
  while (pin.size() < 255 && in.get(c)) pin.push_back(c);
  while (!pin.empty() && (pin.back() == '\n' || pin.back() == '\r')) pin.pop_back();
  if (pin.empty()) {
    wipe_secret(pin);
    return fail("DEVICE_KEY_PIN_REFUSED", "the token PIN file \"" + pin_file.string() + "\" is empty");
  }
  return pin;
}

Result<ENGINE*> engine_for(const std::filesystem::path& module) {
  // Caller holds engine_mutex.
  auto& slots = engines();
  const auto found = slots.find(module.string());
  if (found != slots.end()) return found->second.engine;
  ENGINE_load_builtin_engines();
  ENGINE* engine = ENGINE_by_id("pkcs11");
  if (engine == nullptr) {
    return fail("DEVICE_KEY_UNREADABLE",
                "the OpenSSL pkcs11 engine is not installed (package libengine-pkcs11-openssl): " + openssl_errors());
  }
  if (ENGINE_ctrl_cmd_string(engine, "MODULE_PATH", module.c_str(), 0) != 1 || ENGINE_init(engine) != 1) {
    const std::string detail = openssl_errors();
    ENGINE_free(engine);
    return fail("DEVICE_KEY_UNREADABLE",
                "the PKCS#11 module \"" + module.string() + "\" could not be set up: " + detail);
  }
  // ENGINE_init took a functional reference; the structural one from ENGINE_by_id is kept as well.
  slots[module.string()] = EngineSlot{engine};
  return engine;
}

Result<openssl::Key> load_token_key(const DeviceKeySpec& spec) {
  if (spec.pkcs11_module.empty()) {
    return fail("DEVICE_KEY_UNREADABLE", "a pkcs11: device key needs the PKCS#11 module path ([device] pkcs11_module)");
  }
  std::error_code error;
  if (!std::filesystem::is_regular_file(spec.pkcs11_module, error)) {
    return fail("DEVICE_KEY_UNREADABLE", "the PKCS#11 module \"" + spec.pkcs11_module.string() +
                                             "\" does not exist; check [device] pkcs11_module");
  }
  std::string pin;
  if (!spec.pin_file.empty()) {
    auto read = read_pin(spec.pin_file);
    if (!read) return std::unexpected(read.error());
    pin = std::move(*read);
  }
  std::lock_guard lock(engine_mutex);
  ERR_clear_error();
  auto engine = engine_for(spec.pkcs11_module);
  if (!engine) {
    wipe_secret(pin);
    return std::unexpected(engine.error());
  }
  // libp11 keeps its own copy of the PIN (it may log in again after a token reset) and cleanses it
  // when the engine goes; ours is wiped at once. Setting an empty PIN clears a previous one.
  const int pin_set = ENGINE_ctrl_cmd_string(*engine, "PIN", pin.empty() ? nullptr : pin.c_str(), 0);
  wipe_secret(pin);
  if (pin_set != 1) ERR_clear_error();
  EVP_PKEY* key = ENGINE_load_private_key(*engine, spec.key.c_str(), no_prompt_method(), nullptr);
  if (key == nullptr) {
    if (errors_mention_pin()) {
      return fail("DEVICE_KEY_PIN_REFUSED",
                  "the token refused the PIN from \"" + spec.pin_file.string() +
                      "\" (wrong, expired or blocked); fix the PIN file before the token locks");
    }
    return fail("DEVICE_KEY_TOKEN_UNAVAILABLE",
                "no token with that key is present (is the token plugged in and the key URI right?)");
  }
  ERR_clear_error();
  return openssl::Key(key);
}

}  // namespace

bool is_pkcs11_uri(std::string_view key) { return key.starts_with("pkcs11:"); }

Result<openssl::Key> load_device_key(const DeviceKeySpec& spec) {
  if (spec.key.empty()) return fail("DEVICE_KEY_UNREADABLE", "no device key is configured");
  if (is_pkcs11_uri(spec.key)) return load_token_key(spec);
  return load_pem_key(spec.key);
}

Result<std::shared_ptr<const ClientTlsCredentials>> ClientTlsCredentials::load(const std::filesystem::path& cert_file,
                                                                               const DeviceKeySpec& key_spec) {
  std::FILE* handle = std::fopen(cert_file.c_str(), "rb");
  if (handle == nullptr) {
    return fail("CLIENT_CERT_UNREADABLE",
                "the device certificate \"" + cert_file.string() + "\" cannot be read; check the path");
  }
  openssl::Certificate certificate(PEM_read_X509(handle, nullptr, nullptr, nullptr));
  std::fclose(handle);
  if (!certificate) {
    ERR_clear_error();
    return fail("CLIENT_CERT_UNREADABLE",
                "the device certificate \"" + cert_file.string() + "\" is not a PEM certificate");
  }
  auto key = load_device_key(key_spec);
  if (!key) return std::unexpected(key.error());
  if (X509_check_private_key(certificate.get(), key->get()) != 1) {
    ERR_clear_error();
    return fail("CLIENT_CERT_UNREADABLE", "the device certificate \"" + cert_file.string() +
                                              "\" does not belong to the device key; re-enrol the device");
  }
  return std::make_shared<const ClientTlsCredentials>(std::move(certificate), std::move(*key));
}

bool ClientTlsCredentials::install_into(void* ssl_ctx) const {
  auto* context = static_cast<SSL_CTX*>(ssl_ctx);
  if (SSL_CTX_use_certificate(context, certificate_.get()) != 1 || SSL_CTX_use_PrivateKey(context, key_.get()) != 1) {
    ERR_clear_error();
    return false;
  }
  return true;
}

}  // namespace kiosk::sync
