#include "hal/token/pkcs11_driver.hpp"

#include <dlfcn.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include <algorithm>
#include <array>
#include <system_error>

#include "hal/token/pkcs11_errors.hpp"
#include "hal/token/token_crypto.hpp"

namespace kiosk::hal::token {
namespace {

constexpr std::size_t kKeyIdBytes = 16;
constexpr CK_ULONG kMaxObjects = 256;  // a token holds a handful of objects; bound every search
constexpr CK_ULONG kMaxAttributeBytes = 64 * 1024;
constexpr CK_BBOOL kTrue = CK_TRUE;
constexpr CK_BBOOL kFalse = CK_FALSE;

TokenError driver_error(Completion completion, std::string code, std::string message) {
  return TokenError{completion, Error{std::move(code), std::move(message)}, std::nullopt};
}

std::string trim_padded(const unsigned char* field, std::size_t width) {
  std::string text(reinterpret_cast<const char*>(field), width);
  const auto end = text.find_last_not_of(" \0", std::string::npos, 2);
  text.erase(end == std::string::npos ? 0 : end + 1);
  return text;
}

CK_ATTRIBUTE attr(CK_ATTRIBUTE_TYPE type, const void* value, std::size_t length) {
  return CK_ATTRIBUTE{type, const_cast<void*>(value), static_cast<CK_ULONG>(length)};
}
template <class T>
CK_ATTRIBUTE attr(CK_ATTRIBUTE_TYPE type, const T& value) {
  return attr(type, &value, sizeof value);
}

// Wipes a PIN when it goes out of scope, on every return path.
struct PinWiper {
  std::string& pin;
  ~PinWiper() { wipe(pin); }
};

std::vector<std::uint8_t> random_key_id() {
  std::vector<std::uint8_t> id(kKeyIdBytes);
  if (RAND_bytes(id.data(), static_cast<int>(id.size())) != 1) id.clear();
  return id;
}

}  // namespace

// ---- Pkcs11Module ---------------------------------------------------------------------------

Pkcs11Module::Pkcs11Module(void* library, CK_FUNCTION_LIST* functions, std::filesystem::path path)
    : library_(library), functions_(functions), path_(std::move(path)) {}

Pkcs11Module::~Pkcs11Module() {
  functions_->C_Finalize(nullptr);
  dlclose(library_);
}

TokenResult<std::shared_ptr<Pkcs11Module>> Pkcs11Module::load(const std::filesystem::path& module_path) {
  std::error_code ignored;
  if (!std::filesystem::is_regular_file(module_path, ignored)) {
    return std::unexpected(driver_error(
        Completion::device_not_ready, "TOKEN_MODULE_NOT_FOUND",
        "no PKCS#11 module at " + module_path.string() + "; check [devices] token_module in the configuration"));
  }
  // RTLD_NODELETE: modules that link libcrypto register exit handlers, and unloading them makes the
  // process crash at exit (reference/hal.md §2.3, "no-deinit"); keep the code mapped after dlclose.
  void* library = dlopen(module_path.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
  if (library == nullptr) {
    const char* reason = dlerror();
    return std::unexpected(driver_error(Completion::device_not_ready, "TOKEN_MODULE_INVALID",
                                        module_path.string() + " cannot be loaded: " + (reason ? reason : "unknown")));
  }
  auto get_function_list = reinterpret_cast<CK_C_GetFunctionList>(dlsym(library, "C_GetFunctionList"));
  CK_FUNCTION_LIST* functions = nullptr;
  if (get_function_list == nullptr) {
    dlclose(library);
    return std::unexpected(driver_error(Completion::device_not_ready, "TOKEN_MODULE_INVALID",
                                        module_path.string() + " is not a PKCS#11 module (no C_GetFunctionList)"));
  }
  if (const CK_RV rv = get_function_list(&functions); rv != CKR_OK || functions == nullptr) {
    dlclose(library);
    TokenError error = ckr_error("C_GetFunctionList", rv);
    error.completion = Completion::device_not_ready;
    error.error.code = "TOKEN_MODULE_INVALID";
    return std::unexpected(error);
  }
  if (functions->version.major != 2) {
    dlclose(library);
    return std::unexpected(driver_error(Completion::device_not_ready, "TOKEN_MODULE_INVALID",
                                        module_path.string() + " implements PKCS#11 " +
                                            std::to_string(functions->version.major) + ".x; 2.x is needed"));
  }
  // The driver may be called from more than one thread over its life; the module uses OS locks.
  CK_C_INITIALIZE_ARGS arguments{};
  arguments.flags = CKF_OS_LOCKING_OK;
  if (const CK_RV rv = functions->C_Initialize(&arguments); rv != CKR_OK) {
    dlclose(library);
    TokenError error = ckr_error("C_Initialize", rv);
    error.completion = Completion::device_not_ready;
    error.error.code = "TOKEN_MODULE_INIT";
    return std::unexpected(error);
  }
  return std::shared_ptr<Pkcs11Module>(new Pkcs11Module(library, functions, module_path));
}

// ---- Pkcs11Driver ---------------------------------------------------------------------------

Pkcs11Driver::Pkcs11Driver(std::shared_ptr<Pkcs11Module> module) : module_(std::move(module)) {}

TokenResult<std::vector<SlotId>> Pkcs11Driver::slots_with_token() {
  CK_FUNCTION_LIST* f = module_->functions();
  // The slot count can change between the two calls (a token plugged in): retry on a short buffer.
  for (int attempt = 0; attempt < 3; ++attempt) {
    CK_ULONG count = 0;
    if (const CK_RV rv = f->C_GetSlotList(CK_TRUE, nullptr, &count); rv != CKR_OK) {
      return std::unexpected(ckr_error("C_GetSlotList", rv));
    }
    std::vector<CK_SLOT_ID> slots(count);
    const CK_RV rv = f->C_GetSlotList(CK_TRUE, slots.data(), &count);
    if (rv == CKR_BUFFER_TOO_SMALL) continue;
    if (rv != CKR_OK) return std::unexpected(ckr_error("C_GetSlotList", rv));
    slots.resize(count);
    return std::vector<SlotId>(slots.begin(), slots.end());
  }
  return std::unexpected(driver_error(Completion::device_not_ready, "TOKEN_BUSY",
                                      "the slot list kept changing while it was read; try again"));
}

TokenResult<TokenInfo> Pkcs11Driver::token_info(SlotId slot) {
  CK_TOKEN_INFO raw{};
  if (const CK_RV rv = module_->functions()->C_GetTokenInfo(slot, &raw); rv != CKR_OK) {
    return std::unexpected(ckr_error("C_GetTokenInfo", rv));
  }
  TokenInfo info;
  info.slot = slot;
  info.label = trim_padded(raw.label, sizeof raw.label);
  info.manufacturer = trim_padded(raw.manufacturerID, sizeof raw.manufacturerID);
  info.model = trim_padded(raw.model, sizeof raw.model);
  info.serial = trim_padded(raw.serialNumber, sizeof raw.serialNumber);
  info.flags = raw.flags;
  info.token_initialized = (raw.flags & CKF_TOKEN_INITIALIZED) != 0;
  info.user_pin = user_pin_state_from_flags(raw.flags);
  info.min_pin_length = raw.ulMinPinLen;
  info.max_pin_length = raw.ulMaxPinLen;
  return info;
}

TokenResult<void> Pkcs11Driver::init_token(SlotId slot, std::string& so_pin, std::string_view label) {
  PinWiper wiper{so_pin};
  std::array<unsigned char, 32> padded_label;
  padded_label.fill(' ');
  if (label.empty() || label.size() > padded_label.size()) {
    return std::unexpected(
        driver_error(Completion::internal_error, "TOKEN_BAD_LABEL", "a token label must be 1 to 32 bytes"));
  }
  std::copy(label.begin(), label.end(), padded_label.begin());
  const CK_RV rv = module_->functions()->C_InitToken(slot, reinterpret_cast<CK_UTF8CHAR*>(so_pin.data()), so_pin.size(),
                                                     padded_label.data());
  if (rv != CKR_OK) return std::unexpected(ckr_error("C_InitToken", rv));
  return {};
}

TokenResult<std::unique_ptr<Pkcs11Session>> Pkcs11Driver::open_pkcs11_session(SlotId slot) {
  CK_SESSION_HANDLE handle = CK_INVALID_HANDLE;
  const CK_RV rv =
      module_->functions()->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, nullptr, nullptr, &handle);
  if (rv != CKR_OK) return std::unexpected(ckr_error("C_OpenSession", rv));
  return std::make_unique<Pkcs11Session>(module_, handle);
}

TokenResult<std::unique_ptr<TokenSession>> Pkcs11Driver::open_session(SlotId slot) {
  auto session = open_pkcs11_session(slot);
  if (!session) return std::unexpected(session.error());
  return std::unique_ptr<TokenSession>(std::move(*session));
}

// ---- Pkcs11Session --------------------------------------------------------------------------

Pkcs11Session::Pkcs11Session(std::shared_ptr<Pkcs11Module> module, CK_SESSION_HANDLE handle)
    : module_(std::move(module)), f_(module_->functions()), handle_(handle) {}

Pkcs11Session::~Pkcs11Session() { f_->C_CloseSession(handle_); }

TokenResult<void> Pkcs11Session::login(CK_USER_TYPE user, std::string& pin) {
  PinWiper wiper{pin};
  const CK_RV rv = f_->C_Login(handle_, user, reinterpret_cast<CK_UTF8CHAR*>(pin.data()), pin.size());
  if (rv != CKR_OK) return std::unexpected(ckr_error("C_Login", rv));
  return {};
}

TokenResult<void> Pkcs11Session::login_user(std::string& pin) { return login(CKU_USER, pin); }
TokenResult<void> Pkcs11Session::login_security_officer(std::string& so_pin) { return login(CKU_SO, so_pin); }

TokenResult<void> Pkcs11Session::logout() {
  if (const CK_RV rv = f_->C_Logout(handle_); rv != CKR_OK && rv != CKR_USER_NOT_LOGGED_IN) {
    return std::unexpected(ckr_error("C_Logout", rv));
  }
  return {};
}

TokenResult<void> Pkcs11Session::change_pin(std::string& old_pin, std::string& new_pin) {
  PinWiper old_wiper{old_pin};
  PinWiper new_wiper{new_pin};
  const CK_RV rv = f_->C_SetPIN(handle_, reinterpret_cast<CK_UTF8CHAR*>(old_pin.data()), old_pin.size(),
                                reinterpret_cast<CK_UTF8CHAR*>(new_pin.data()), new_pin.size());
  if (rv != CKR_OK) return std::unexpected(ckr_error("C_SetPIN", rv));
  return {};
}

TokenResult<void> Pkcs11Session::init_user_pin(std::string& new_pin) {
  PinWiper wiper{new_pin};
  const CK_RV rv = f_->C_InitPIN(handle_, reinterpret_cast<CK_UTF8CHAR*>(new_pin.data()), new_pin.size());
  if (rv != CKR_OK) return std::unexpected(ckr_error("C_InitPIN", rv));
  return {};
}

TokenResult<std::vector<CK_OBJECT_HANDLE>> Pkcs11Session::find_objects(std::span<CK_ATTRIBUTE> match) {
  if (const CK_RV rv = f_->C_FindObjectsInit(handle_, match.data(), match.size()); rv != CKR_OK) {
    return std::unexpected(ckr_error("C_FindObjectsInit", rv));
  }
  std::vector<CK_OBJECT_HANDLE> objects(kMaxObjects);
  CK_ULONG found = 0;
  const CK_RV rv = f_->C_FindObjects(handle_, objects.data(), kMaxObjects, &found);
  f_->C_FindObjectsFinal(handle_);
  if (rv != CKR_OK) return std::unexpected(ckr_error("C_FindObjects", rv));
  objects.resize(found);
  return objects;
}

TokenResult<CK_OBJECT_HANDLE> Pkcs11Session::find_object(CK_OBJECT_CLASS object_class,
                                                         std::span<const std::uint8_t> id) {
  std::array match{attr(CKA_CLASS, object_class), attr(CKA_ID, id.data(), id.size())};
  auto objects = find_objects(match);
  if (!objects) return std::unexpected(objects.error());
  if (objects->empty()) {
    return std::unexpected(driver_error(Completion::invalid_data, "TOKEN_OBJECT_NOT_FOUND",
                                        "the token holds no such object for this key id"));
  }
  return objects->front();
}

TokenResult<std::vector<std::uint8_t>> Pkcs11Session::attribute(CK_OBJECT_HANDLE object, CK_ATTRIBUTE_TYPE type) {
  CK_ATTRIBUTE query = attr(type, nullptr, 0);
  if (const CK_RV rv = f_->C_GetAttributeValue(handle_, object, &query, 1); rv != CKR_OK) {
    return std::unexpected(ckr_error("C_GetAttributeValue", rv));
  }
  if (query.ulValueLen == CK_UNAVAILABLE_INFORMATION || query.ulValueLen > kMaxAttributeBytes) {
    return std::unexpected(driver_error(Completion::invalid_data, "TOKEN_ATTRIBUTE_UNAVAILABLE",
                                        "the token did not give a usable length for an attribute"));
  }
  std::vector<std::uint8_t> value(query.ulValueLen);
  query.pValue = value.data();
  if (const CK_RV rv = f_->C_GetAttributeValue(handle_, object, &query, 1); rv != CKR_OK) {
    return std::unexpected(ckr_error("C_GetAttributeValue", rv));
  }
  value.resize(std::min<CK_ULONG>(query.ulValueLen, value.size()));
  return value;
}

TokenResult<void> Pkcs11Session::verify_private_key_stays(CK_OBJECT_HANDLE private_key) {
  CK_BBOOL sensitive = CK_FALSE;
  CK_BBOOL extractable = CK_TRUE;
  CK_BBOOL never_extractable = CK_FALSE;
  CK_BBOOL always_sensitive = CK_FALSE;
  std::array query{attr(CKA_SENSITIVE, sensitive), attr(CKA_EXTRACTABLE, extractable),
                   attr(CKA_NEVER_EXTRACTABLE, never_extractable), attr(CKA_ALWAYS_SENSITIVE, always_sensitive)};
  if (const CK_RV rv = f_->C_GetAttributeValue(handle_, private_key, query.data(), query.size()); rv != CKR_OK) {
    return std::unexpected(ckr_error("C_GetAttributeValue", rv));
  }
  if (sensitive != CK_TRUE || extractable != CK_FALSE || never_extractable != CK_TRUE || always_sensitive != CK_TRUE) {
    return std::unexpected(driver_error(
        Completion::refused, "TOKEN_KEY_EXTRACTABLE",
        std::string("the token made a private key that could leave it (sensitive=") + (sensitive ? "yes" : "no") +
            ", extractable=" + (extractable ? "yes" : "no") + ", never extractable=" +
            (never_extractable ? "yes" : "no") + ", always sensitive=" + (always_sensitive ? "yes" : "no") +
            "); the key was destroyed, and this token model must not be used"));
  }
  return {};
}

TokenResult<PublicKey> Pkcs11Session::export_public_key(KeyType type, CK_OBJECT_HANDLE public_key) {
  Result<PublicKey> key;
  if (type == KeyType::rsa_2048) {
    auto modulus = attribute(public_key, CKA_MODULUS);
    if (!modulus) return std::unexpected(modulus.error());
    auto exponent = attribute(public_key, CKA_PUBLIC_EXPONENT);
    if (!exponent) return std::unexpected(exponent.error());
    key = rsa_public_key(*modulus, *exponent);
  } else {
    auto point = attribute(public_key, CKA_EC_POINT);
    if (!point) return std::unexpected(point.error());
    key = ec_p256_public_key(*point);
  }
  if (!key) return std::unexpected(TokenError{Completion::invalid_data, key.error(), std::nullopt});
  return *key;
}

TokenResult<TokenKey> Pkcs11Session::generate_key_pair(KeyType type, std::string_view label) {
  TokenKey key;
  key.type = type;
  key.label = std::string(label);
  key.id = random_key_id();
  if (key.id.empty()) {
    return std::unexpected(
        driver_error(Completion::internal_error, "TOKEN_RANDOM_FAILED", "the host random generator failed; no key id"));
  }
  const bool is_rsa = type == KeyType::rsa_2048;
  const CK_MECHANISM mechanism{is_rsa ? CKM_RSA_PKCS_KEY_PAIR_GEN : CKM_EC_KEY_PAIR_GEN, nullptr, 0};
  const CK_ULONG modulus_bits = 2048;
  constexpr std::array<std::uint8_t, 3> kPublicExponent{0x01, 0x00, 0x01};
  const std::span<const std::uint8_t> ec_params = p256_ec_params();

  std::vector<CK_ATTRIBUTE> public_template{
      attr(CKA_TOKEN, kTrue),
      attr(CKA_PRIVATE, kFalse),
      attr(CKA_VERIFY, kTrue),
      attr(CKA_ID, key.id.data(), key.id.size()),
      attr(CKA_LABEL, label.data(), label.size()),
  };
  if (is_rsa) {
    public_template.push_back(attr(CKA_MODULUS_BITS, modulus_bits));
    public_template.push_back(attr(CKA_PUBLIC_EXPONENT, kPublicExponent.data(), kPublicExponent.size()));
  } else {
    public_template.push_back(attr(CKA_EC_PARAMS, ec_params.data(), ec_params.size()));
  }
  std::array private_template{
      attr(CKA_TOKEN, kTrue),
      attr(CKA_PRIVATE, kTrue),
      attr(CKA_SENSITIVE, kTrue),
      attr(CKA_EXTRACTABLE, kFalse),
      attr(CKA_SIGN, kTrue),
      attr(CKA_ID, key.id.data(), key.id.size()),
      attr(CKA_LABEL, label.data(), label.size()),
  };
  CK_MECHANISM mechanism_copy = mechanism;
  CK_OBJECT_HANDLE public_handle = CK_INVALID_HANDLE;
  CK_OBJECT_HANDLE private_handle = CK_INVALID_HANDLE;
  const CK_RV rv =
      f_->C_GenerateKeyPair(handle_, &mechanism_copy, public_template.data(), public_template.size(),
                            private_template.data(), private_template.size(), &public_handle, &private_handle);
  if (rv != CKR_OK) return std::unexpected(ckr_error("C_GenerateKeyPair", rv));

  auto destroy_pair = [&] {
    f_->C_DestroyObject(handle_, private_handle);
    f_->C_DestroyObject(handle_, public_handle);
  };
  // Trust the token's word after the fact, not our template: a module may ignore what it cannot do.
  if (auto kept = verify_private_key_stays(private_handle); !kept) {
    destroy_pair();
    return std::unexpected(kept.error());
  }
  auto public_key = export_public_key(type, public_handle);
  if (!public_key) {
    destroy_pair();
    return std::unexpected(public_key.error());
  }
  key.public_key = std::move(*public_key);
  return key;
}

TokenResult<std::vector<std::uint8_t>> Pkcs11Session::sign(CK_MECHANISM_TYPE mechanism_type, CK_OBJECT_HANDLE key,
                                                           std::span<const std::uint8_t> data) {
  CK_MECHANISM mechanism{mechanism_type, nullptr, 0};
  if (const CK_RV rv = f_->C_SignInit(handle_, &mechanism, key); rv != CKR_OK) {
    return std::unexpected(ckr_error("C_SignInit", rv));
  }
  std::vector<std::uint8_t> input(data.begin(), data.end());
  CK_ULONG length = 0;
  // Length query first, then the signature: the single-part C_Sign protocol (PKCS#11 §5.2).
  if (const CK_RV rv = f_->C_Sign(handle_, input.data(), input.size(), nullptr, &length); rv != CKR_OK) {
    return std::unexpected(ckr_error("C_Sign", rv));
  }
  std::vector<std::uint8_t> signature(length);
  if (const CK_RV rv = f_->C_Sign(handle_, input.data(), input.size(), signature.data(), &length); rv != CKR_OK) {
    return std::unexpected(ckr_error("C_Sign", rv));
  }
  signature.resize(length);
  return signature;
}

TokenResult<CertificateRequest> Pkcs11Session::sign_request(const TokenKey& key, const SubjectName& subject) {
  if (!key.public_key) {
    return std::unexpected(driver_error(Completion::internal_error, "TOKEN_CSR_BUILD_FAILED",
                                        "the key has no public half to put in the request"));
  }
  auto private_key = find_object(CKO_PRIVATE_KEY, key.id);
  if (!private_key) return std::unexpected(private_key.error());

  TbsSigner signer = [&](std::span<const std::uint8_t> tbs) -> TokenResult<std::vector<std::uint8_t>> {
    if (key.type == KeyType::rsa_2048) {
      auto signature = sign(CKM_SHA256_RSA_PKCS, *private_key, tbs);
      if (signature || signature.error().completion != Completion::unsupported) return signature;
      // A module without the combined mechanism: hash here and sign a DigestInfo with raw PKCS#1 v1.5.
      constexpr std::array<std::uint8_t, 19> kSha256DigestInfoPrefix{0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60,
                                                                     0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                                                                     0x01, 0x05, 0x00, 0x04, 0x20};
      std::vector<std::uint8_t> digest_info(kSha256DigestInfoPrefix.begin(), kSha256DigestInfoPrefix.end());
      digest_info.resize(digest_info.size() + SHA256_DIGEST_LENGTH);
      SHA256(tbs.data(), tbs.size(), digest_info.data() + kSha256DigestInfoPrefix.size());
      return sign(CKM_RSA_PKCS, *private_key, digest_info);
    }
    // SoftHSM 2.6 has no CKM_ECDSA_SHA256 (reference/hal.md §2.3): hash here, sign the hash.
    std::array<std::uint8_t, SHA256_DIGEST_LENGTH> digest{};
    SHA256(tbs.data(), tbs.size(), digest.data());
    auto raw = sign(CKM_ECDSA, *private_key, digest);
    if (!raw) return raw;
    auto der = ecdsa_raw_to_der(*raw);
    if (!der) return std::unexpected(TokenError{Completion::invalid_data, der.error(), std::nullopt});
    return *der;
  };
  return build_signed_request(key.type, key.public_key.get(), subject, signer);
}

TokenResult<void> Pkcs11Session::import_certificate(std::span<const std::uint8_t> key_id,
                                                    std::span<const std::uint8_t> der, std::string_view label) {
  const unsigned char* in = der.data();
  std::unique_ptr<X509, decltype(&X509_free)> certificate(d2i_X509(nullptr, &in, static_cast<long>(der.size())),
                                                          X509_free);
  if (!certificate || in != der.data() + der.size()) {
    return std::unexpected(driver_error(Completion::invalid_data, "TOKEN_CERT_INVALID",
                                        "the certificate to import is not a single DER X.509 certificate"));
  }
  // The certificate must belong to a key pair on this token, or renew/revoke could not find it later.
  if (auto key = find_object(CKO_PRIVATE_KEY, key_id); !key) {
    return std::unexpected(driver_error(Completion::invalid_data, "TOKEN_CERT_NO_KEY",
                                        "the token holds no private key with the certificate's key id"));
  }
  auto encode = [](const auto* object, auto encoder) {
    std::vector<std::uint8_t> bytes(static_cast<std::size_t>(std::max(encoder(object, nullptr), 0)));
    unsigned char* out = bytes.data();
    encoder(object, &out);
    return bytes;
  };
  const std::vector<std::uint8_t> subject = encode(X509_get_subject_name(certificate.get()), i2d_X509_NAME);
  const std::vector<std::uint8_t> issuer = encode(X509_get_issuer_name(certificate.get()), i2d_X509_NAME);
  const std::vector<std::uint8_t> serial = encode(X509_get0_serialNumber(certificate.get()), i2d_ASN1_INTEGER);

  const CK_OBJECT_CLASS object_class = CKO_CERTIFICATE;
  const CK_CERTIFICATE_TYPE certificate_type = CKC_X_509;
  std::array object_template{
      attr(CKA_CLASS, object_class),
      attr(CKA_CERTIFICATE_TYPE, certificate_type),
      attr(CKA_TOKEN, kTrue),
      attr(CKA_PRIVATE, kFalse),
      attr(CKA_ID, key_id.data(), key_id.size()),
      attr(CKA_LABEL, label.data(), label.size()),
      attr(CKA_SUBJECT, subject.data(), subject.size()),
      attr(CKA_ISSUER, issuer.data(), issuer.size()),
      attr(CKA_SERIAL_NUMBER, serial.data(), serial.size()),
      attr(CKA_VALUE, der.data(), der.size()),
  };
  CK_OBJECT_HANDLE object = CK_INVALID_HANDLE;
  if (const CK_RV rv = f_->C_CreateObject(handle_, object_template.data(), object_template.size(), &object);
      rv != CKR_OK) {
    return std::unexpected(ckr_error("C_CreateObject", rv));
  }
  return {};
}

TokenResult<std::vector<TokenCertificate>> Pkcs11Session::read_certificates() {
  const CK_OBJECT_CLASS object_class = CKO_CERTIFICATE;
  const CK_CERTIFICATE_TYPE certificate_type = CKC_X_509;
  std::array match{attr(CKA_CLASS, object_class), attr(CKA_CERTIFICATE_TYPE, certificate_type)};
  auto objects = find_objects(match);
  if (!objects) return std::unexpected(objects.error());
  std::vector<TokenCertificate> certificates;
  for (const CK_OBJECT_HANDLE object : *objects) {
    auto value = attribute(object, CKA_VALUE);
    if (!value) return std::unexpected(value.error());
    auto described = describe_certificate(*value);
    if (!described) return std::unexpected(TokenError{Completion::invalid_data, described.error(), std::nullopt});
    auto id = attribute(object, CKA_ID);
    if (id) described->id = std::move(*id);
    auto label = attribute(object, CKA_LABEL);
    if (label) described->label.assign(label->begin(), label->end());
    certificates.push_back(std::move(*described));
  }
  return certificates;
}

// ---- free functions -------------------------------------------------------------------------

PinState user_pin_state_from_flags(CK_FLAGS token_flags) {
  PinState state;
  state.initialized = (token_flags & CKF_USER_PIN_INITIALIZED) != 0;
  state.count_low = (token_flags & CKF_USER_PIN_COUNT_LOW) != 0;
  state.final_try = (token_flags & CKF_USER_PIN_FINAL_TRY) != 0;
  state.locked = (token_flags & CKF_USER_PIN_LOCKED) != 0;
  state.to_be_changed = (token_flags & CKF_USER_PIN_TO_BE_CHANGED) != 0;
  return state;
}

}  // namespace kiosk::hal::token
