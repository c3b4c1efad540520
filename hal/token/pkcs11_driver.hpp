// The PKCS#11 token driver. The module (OpenSC's, a vendor's, SoftHSM2 in tests) is a path chosen at
// run time and dlopen()ed: it is never a link dependency, so a kiosk without a token module still starts.
#pragma once

#include <p11-kit/pkcs11.h>

#include <filesystem>
#include <memory>

#include "hal/token/token_driver.hpp"

namespace kiosk::hal::token {

// One loaded and initialised module. C_Finalize runs when the last owner lets go.
class Pkcs11Module {
 public:
  // TOKEN_MODULE_NOT_FOUND (no such file), TOKEN_MODULE_INVALID (not a loadable PKCS#11 module),
  // TOKEN_MODULE_INIT (C_Initialize failed, e.g. CKR_CRYPTOKI_ALREADY_INITIALIZED in this process).
  static TokenResult<std::shared_ptr<Pkcs11Module>> load(const std::filesystem::path& module_path);

  Pkcs11Module(const Pkcs11Module&) = delete;
  Pkcs11Module& operator=(const Pkcs11Module&) = delete;
  ~Pkcs11Module();

  [[nodiscard]] CK_FUNCTION_LIST* functions() const { return functions_; }
  [[nodiscard]] const std::filesystem::path& path() const { return path_; }

 private:
  Pkcs11Module(void* library, CK_FUNCTION_LIST* functions, std::filesystem::path path);

  void* library_;
  CK_FUNCTION_LIST* functions_;
  std::filesystem::path path_;
};

// The user PIN's state from CK_TOKEN_INFO.flags.
PinState user_pin_state_from_flags(CK_FLAGS token_flags);

class Pkcs11Session;

class Pkcs11Driver final : public TokenDriver {
 public:
  explicit Pkcs11Driver(std::shared_ptr<Pkcs11Module> module);

  TokenResult<std::vector<SlotId>> slots_with_token() override;
  TokenResult<TokenInfo> token_info(SlotId slot) override;
  TokenResult<void> init_token(SlotId slot, std::string& so_pin, std::string_view label) override;
  TokenResult<std::unique_ptr<TokenSession>> open_session(SlotId slot) override;

  // The same, with the concrete type, for callers (tests) that need the raw session handle.
  TokenResult<std::unique_ptr<Pkcs11Session>> open_pkcs11_session(SlotId slot);

  [[nodiscard]] const std::shared_ptr<Pkcs11Module>& module() const { return module_; }

 private:
  std::shared_ptr<Pkcs11Module> module_;
};

class Pkcs11Session final : public TokenSession {
 public:
  Pkcs11Session(std::shared_ptr<Pkcs11Module> module, CK_SESSION_HANDLE handle);
  Pkcs11Session(const Pkcs11Session&) = delete;
  Pkcs11Session& operator=(const Pkcs11Session&) = delete;
  ~Pkcs11Session() override;  // C_CloseSession

  TokenResult<void> login_user(std::string& pin) override;
  TokenResult<void> login_security_officer(std::string& so_pin) override;
  TokenResult<void> logout() override;
  TokenResult<void> change_pin(std::string& old_pin, std::string& new_pin) override;
  TokenResult<void> init_user_pin(std::string& new_pin) override;
  TokenResult<TokenKey> generate_key_pair(KeyType type, std::string_view label) override;
  TokenResult<CertificateRequest> sign_request(const TokenKey& key, const SubjectName& subject) override;
  TokenResult<void> import_certificate(std::span<const std::uint8_t> key_id, std::span<const std::uint8_t> der,
                                       std::string_view label) override;
  TokenResult<std::vector<TokenCertificate>> read_certificates() override;

  // The object of `object_class` (CKO_*) with this CKA_ID; TOKEN_OBJECT_NOT_FOUND when there is none.
  TokenResult<CK_OBJECT_HANDLE> find_object(CK_OBJECT_CLASS object_class, std::span<const std::uint8_t> id);
  [[nodiscard]] CK_SESSION_HANDLE handle() const { return handle_; }

 private:
  TokenResult<void> login(CK_USER_TYPE user, std::string& pin);
  TokenResult<std::vector<CK_OBJECT_HANDLE>> find_objects(std::span<CK_ATTRIBUTE> match);
  TokenResult<std::vector<std::uint8_t>> attribute(CK_OBJECT_HANDLE object, CK_ATTRIBUTE_TYPE type);
  TokenResult<void> verify_private_key_stays(CK_OBJECT_HANDLE private_key);
  TokenResult<PublicKey> export_public_key(KeyType type, CK_OBJECT_HANDLE public_key);
  TokenResult<std::vector<std::uint8_t>> sign(CK_MECHANISM_TYPE mechanism, CK_OBJECT_HANDLE key,
                                              std::span<const std::uint8_t> data);

  std::shared_ptr<Pkcs11Module> module_;
  CK_FUNCTION_LIST* f_;
  CK_SESSION_HANDLE handle_;
};

}  // namespace kiosk::hal::token
