#include "kiosk/ctl/softcert_command.hpp"

#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>

#include "kiosk/core/error.hpp"
#include "kiosk/core/openssl_handles.hpp"
#include "kiosk/ctl/cert_command.hpp"
#include "sync/client/https_client.hpp"

namespace kiosk::ctl {
namespace {

namespace fs = std::filesystem;

constexpr int kExitDone = 0;
constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;

constexpr const char* kSoftcertHelp =
    R"(kioskctl softcert - download a soft certificate as the investor's own software would

Usage:
  kioskctl softcert download --gateway URL --ref R --code C --out DIR [--ca-file F]
                             [--key-type ec-p256|rsa2048] [--p12-password-file F]
                             [--timeout-ms N] [--json]

download   makes a new key pair here (the kiosk never sees it), signs a PKCS#10 request with it,
           sends it with the reference number and authorisation code the kiosk handed out
           (POST /v1/softcert/download on the gateway's console listener: server TLS, no client
           certificate), checks that the certificate carries this key and chains to the CA
           certificates in the answer, and writes into DIR (created if needed):
             certificate.pem        the certificate
             chain.pem              the issuing CA and the root CA
             softcert.p12           key + certificate + chain, AES-256 encrypted (mode 0600)
             softcert.p12.password  only without --p12-password-file: a random password (0600)
           Existing files are never overwritten: a PKCS#12 from an earlier download holds a key.

Options:
  --gateway URL            the gateway's console listener, e.g. https://gateway.example:8444
  --ref R                  the reference number, SC followed by 14 digits
  --code C                 the authorisation code (10 characters; case does not matter)
  --out DIR                where to write the files
  --ca-file F              the CA that signed the gateway's TLS certificate (default: OpenSSL's
                           system trust store)
  --key-type T             ec-p256 (default) or rsa2048
  --p12-password-file F    the PKCS#12 password: the first line of F
  --timeout-ms N           the request's time limit, 1..120000 (default 10000)
  --json                   print one JSON object: serial, state, not_after, key_type,
                           certificate, chain, pkcs12, password_file

Exit status: 0 downloaded and written, 1 refused or failed (SOFTCERT_CODE_INVALID,
SOFTCERT_EXPIRED, SOFTCERT_LOCKED, SOFTCERT_ALREADY_DOWNLOADED, GATEWAY_UNREACHABLE,
SOFTCERT_KEY_MISMATCH, SOFTCERT_CHAIN_INVALID, SOFTCERT_OUTPUT_EXISTS, ...), 2 wrong usage.

Example:
  kioskctl softcert download --gateway https://127.0.0.1:8444 --ca-file ca.crt \
      --ref SC20261125000001 --code 7KX3M9QPRT --out ./my-certificate
)";

using KeyPtr = openssl::Key;
using CertPtr = openssl::Certificate;
using ReqPtr = openssl::CertificateRequest;
using BioPtr = openssl::Bio;
using StackPtr = openssl::CertificateStack;
using StorePtr = openssl::Store;
using StoreCtxPtr = openssl::StoreContext;
using P12Ptr = openssl::Pkcs12;

struct Options {
  std::string gateway_url;
  std::string reference;
  std::string code;
  fs::path out_dir;
  std::string ca_file;
  std::string key_type = "ec-p256";
  std::string password_file;
  std::chrono::milliseconds timeout{10000};
  bool json = false;
};

int usage_error(std::FILE* err, const std::string& message) {
  std::fprintf(err, "kioskctl softcert: %s\nRun 'kioskctl softcert --help' for usage.\n", message.c_str());
  return kExitUsage;
}

int failure(std::FILE* err, const Error& error) {
  std::fprintf(err, "kioskctl softcert: %s\n", error.to_string().c_str());
  return kExitFailed;
}

std::string openssl_error() {
  const unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return "no detail from OpenSSL";
  char text[256];
  ERR_error_string_n(code, text, sizeof text);
  return text;
}

bool is_reference(const std::string& text) {
  return text.size() == 16 && text.starts_with("SC") &&
         std::all_of(text.begin() + 2, text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool is_code(const std::string& text) {
  return !text.empty() && text.size() <= 32 && std::all_of(text.begin(), text.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
  });
}

// Writes to a temporary name beside `file`, fsyncs, renames, fsyncs the directory: a crash leaves
// either no file or the whole file, never a torn key.
Result<void> write_atomically(const fs::path& file, std::string_view contents, mode_t mode) {
  const fs::path temp = file.string() + ".tmp";
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return fail("SOFTCERT_WRITE_FAILED", "cannot create " + temp.string());
  ::fchmod(fd, mode);  // the umask must not widen or narrow what we asked for
  std::size_t written = 0;
  while (written < contents.size()) {
    const ssize_t n = ::write(fd, contents.data() + written, contents.size() - written);
    if (n <= 0) {
      ::close(fd);
      ::unlink(temp.c_str());
      return fail("SOFTCERT_WRITE_FAILED", "cannot write " + temp.string());
    }
    written += static_cast<std::size_t>(n);
  }
  const bool synced = ::fsync(fd) == 0;
  ::close(fd);
  if (!synced || ::rename(temp.c_str(), file.c_str()) != 0) {
    ::unlink(temp.c_str());
    return fail("SOFTCERT_WRITE_FAILED", "cannot store " + file.string());
  }
  const int dir = ::open(file.parent_path().empty() ? "." : file.parent_path().c_str(), O_RDONLY | O_DIRECTORY);
  if (dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
  return {};
}

Result<std::string> read_password(const fs::path& file) {
  std::ifstream in(file);
  if (!in) return fail("SOFTCERT_PASSWORD_UNREADABLE", "cannot read the password file " + file.string());
  std::string password;
  std::getline(in, password);
  if (!password.empty() && password.back() == '\r') password.pop_back();
  if (password.empty()) return fail("SOFTCERT_PASSWORD_UNREADABLE", "the password file's first line is empty");
  return password;
}

// 24 characters from a 56-letter alphabet without look-alikes (about 139 bits).
Result<std::string> random_password() {
  constexpr std::string_view kAlphabet = "23456789abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ";
  constexpr unsigned kLimit = 256 - 256 % kAlphabet.size();
  std::string password;
  unsigned char bytes[64];
  while (password.size() < 24) {
    if (RAND_bytes(bytes, sizeof bytes) != 1) return fail("RANDOM_UNAVAILABLE", "the system random generator failed");
    for (unsigned char byte : bytes) {
      if (byte < kLimit && password.size() < 24) password += kAlphabet[byte % kAlphabet.size()];
    }
  }
  return password;
}

Result<KeyPtr> make_key(const std::string& key_type) {
  KeyPtr key(key_type == "rsa2048" ? EVP_RSA_gen(2048) : EVP_EC_gen("P-256"));
  if (!key) return fail("SOFTCERT_KEYGEN_FAILED", "cannot generate the key pair: " + openssl_error());
  return key;
}

// The CA takes the subject from the kiosk's verified record, not from the request: the request's
// subject only names the reference it answers.
Result<std::string> make_request_pem(EVP_PKEY* key, const std::string& reference) {
  ReqPtr request(X509_REQ_new());
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!request || !bio ||
      X509_NAME_add_entry_by_txt(X509_REQ_get_subject_name(request.get()), "CN", MBSTRING_ASC,
                                 reinterpret_cast<const unsigned char*>(reference.c_str()), -1, -1, 0) != 1 ||
      X509_REQ_set_pubkey(request.get(), key) != 1 || X509_REQ_sign(request.get(), key, EVP_sha256()) <= 0 ||
      PEM_write_bio_X509_REQ(bio.get(), request.get()) != 1) {
    return fail("SOFTCERT_REQUEST_FAILED", "cannot build the certificate request: " + openssl_error());
  }
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(size));
}

Result<StackPtr> certificates_from_pem(const std::string& pem, std::string_view what) {
  StackPtr stack(sk_X509_new_null());
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!stack || !bio) return fail("GATEWAY_REPLY_INVALID", "out of memory reading " + std::string(what));
  while (X509* cert = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    if (sk_X509_push(stack.get(), cert) <= 0) {
      X509_free(cert);
      return fail("GATEWAY_REPLY_INVALID", "out of memory reading " + std::string(what));
    }
  }
  ERR_clear_error();  // the end of the PEM text
  if (sk_X509_num(stack.get()) == 0) {
    return fail("GATEWAY_REPLY_INVALID", "the answer's " + std::string(what) + " holds no PEM certificate");
  }
  return stack;
}

// The certificate must chain to the CA certificates of the answer: self-signed ones are the
// anchors, the others intermediates.
Result<void> verify_chain(X509* cert, STACK_OF(X509) * chain) {
  StorePtr store(X509_STORE_new());
  StackPtr untrusted(sk_X509_new_null());
  StoreCtxPtr ctx(X509_STORE_CTX_new());
  if (!store || !untrusted || !ctx) return fail("SOFTCERT_CHAIN_INVALID", "out of memory verifying the chain");
  bool anchored = false;
  for (int i = 0; i < sk_X509_num(chain); ++i) {
    X509* ca = sk_X509_value(chain, i);
    if (X509_check_issued(ca, ca) == X509_V_OK) {
      anchored = X509_STORE_add_cert(store.get(), ca) == 1 || anchored;
    } else if (X509_up_ref(ca) != 1 || sk_X509_push(untrusted.get(), ca) <= 0) {
      return fail("SOFTCERT_CHAIN_INVALID", "out of memory verifying the chain");
    }
  }
  if (!anchored) return fail("SOFTCERT_CHAIN_INVALID", "chain_pem has no root (self-signed) certificate");
  if (X509_STORE_CTX_init(ctx.get(), store.get(), cert, untrusted.get()) != 1) {
    return fail("SOFTCERT_CHAIN_INVALID", "cannot set up chain verification: " + openssl_error());
  }
  if (X509_verify_cert(ctx.get()) != 1) {
    return fail("SOFTCERT_CHAIN_INVALID", std::string("the certificate does not chain to chain_pem: ") +
                                              X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx.get())));
  }
  return {};
}

// Key, certificate and chain, keys and certificates encrypted with PBES2 / AES-256-CBC, and a
// SHA-256 MAC (OpenSSL 3 defaults, named here so a changed default cannot weaken the file).
Result<std::string> pkcs12_der(EVP_PKEY* key, X509* cert, STACK_OF(X509) * chain, const std::string& password,
                               const std::string& friendly_name) {
  constexpr int kIterations = 100000;
  P12Ptr p12(PKCS12_create(password.c_str(), friendly_name.c_str(), key, cert, chain, NID_aes_256_cbc, NID_aes_256_cbc,
                           kIterations, kIterations, 0));
  if (!p12) return fail("SOFTCERT_PKCS12_FAILED", "cannot build the PKCS#12 file: " + openssl_error());
  if (PKCS12_set_mac(p12.get(), password.c_str(), -1, nullptr, 0, kIterations, EVP_sha256()) != 1) {
    return fail("SOFTCERT_PKCS12_FAILED", "cannot protect the PKCS#12 file: " + openssl_error());
  }
  unsigned char* der = nullptr;
  const int length = i2d_PKCS12(p12.get(), &der);
  if (length <= 0) return fail("SOFTCERT_PKCS12_FAILED", "cannot encode the PKCS#12 file: " + openssl_error());
  std::string bytes(reinterpret_cast<const char*>(der), static_cast<std::size_t>(length));
  OPENSSL_free(der);
  return bytes;
}

std::string json_text(const nlohmann::json& object, const char* key) {
  const auto found = object.find(key);
  return found != object.end() && found->is_string() ? found->get<std::string>() : std::string();
}

// Returns the usage problem, empty when the options are complete.
std::string parse_options(const std::vector<std::string>& args, Options& options) {
  for (std::size_t i = 1; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--json") {
      options.json = true;
      continue;
    }
    if (!arg.starts_with("--")) return "unexpected argument '" + arg + "'";
    if (i + 1 >= args.size()) return arg + " needs a value";
    const std::string& value = args[++i];
    if (arg == "--gateway") {
      options.gateway_url = value;
    } else if (arg == "--ref") {
      options.reference = value;
    } else if (arg == "--code") {
      options.code = value;
    } else if (arg == "--out") {
      options.out_dir = value;
    } else if (arg == "--ca-file") {
      options.ca_file = value;
    } else if (arg == "--key-type") {
      options.key_type = value;
    } else if (arg == "--p12-password-file") {
      options.password_file = value;
    } else if (arg == "--timeout-ms") {
      unsigned ms = 0;
      const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), ms);
      if (ec != std::errc{} || end != value.data() + value.size() || ms < 1 || ms > 120000) {
        return "--timeout-ms must be a number from 1 to 120000";
      }
      options.timeout = std::chrono::milliseconds(ms);
    } else {
      return "unknown option '" + arg + "'";
    }
  }
  if (options.gateway_url.empty()) return "--gateway URL is required";
  if (options.reference.empty()) return "--ref R is required";
  if (options.code.empty()) return "--code C is required";
  if (options.out_dir.empty()) return "--out DIR is required";
  if (!is_reference(options.reference)) return "--ref must be SC followed by 14 digits";
  if (!is_code(options.code)) return "--code must be 1-32 letters or digits";
  if (options.key_type != "ec-p256" && options.key_type != "rsa2048") return "--key-type must be ec-p256 or rsa2048";
  return {};
}

int run_download(const std::vector<std::string>& args, std::FILE* out, std::FILE* err) {
  Options options;
  if (const auto problem = parse_options(args, options); !problem.empty()) return usage_error(err, problem);

  const fs::path certificate_file = options.out_dir / "certificate.pem";
  const fs::path chain_file = options.out_dir / "chain.pem";
  const fs::path p12_file = options.out_dir / "softcert.p12";
  const fs::path password_out = options.out_dir / "softcert.p12.password";
  const bool generate_password = options.password_file.empty();

  // Everything that can be checked before the code is spent is checked first.
  std::error_code fs_error;
  fs::create_directories(options.out_dir, fs_error);
  if (fs_error) {
    return failure(
        err, Error{"SOFTCERT_WRITE_FAILED", "cannot create " + options.out_dir.string() + ": " + fs_error.message()});
  }
  for (const auto& file : {certificate_file, chain_file, p12_file, password_out}) {
    if (fs::exists(file, fs_error)) {
      return failure(err, Error{"SOFTCERT_OUTPUT_EXISTS", file.string() + " already exists; choose another --out"});
    }
  }
  auto password = generate_password ? random_password() : read_password(options.password_file);
  if (!password) return failure(err, password.error());
  const std::string ca_file = options.ca_file.empty() ? std::string(X509_get_default_cert_file()) : options.ca_file;
  auto client = sync::HttpsClient::create(options.gateway_url, {ca_file, {}, {}}, options.timeout);
  if (!client) return failure(err, client.error());

  auto key = make_key(options.key_type);
  if (!key) return failure(err, key.error());
  auto request_pem = make_request_pem(key->get(), options.reference);
  if (!request_pem) return failure(err, request_pem.error());
  const nlohmann::json body{{"reference", options.reference}, {"code", options.code}, {"csr_pem", *request_pem}};
  auto response = client->post_json("/v1/softcert/download", body.dump());
  if (!response) return failure(err, response.error());
  if (response->status != 200) return failure(err, gateway_refusal(*response));

  const auto answer = nlohmann::json::parse(response->body, nullptr, false);
  if (!answer.is_object() || !answer.contains("certificate") || !answer["certificate"].is_object()) {
    return failure(err, Error{"GATEWAY_REPLY_INVALID", "the download answer is not a JSON object with a certificate"});
  }
  const std::string certificate_pem = json_text(answer, "certificate_pem");
  const std::string chain_pem = json_text(answer, "chain_pem");
  auto certificates = certificates_from_pem(certificate_pem, "certificate_pem");
  if (!certificates) return failure(err, certificates.error());
  auto chain = certificates_from_pem(chain_pem, "chain_pem");
  if (!chain) return failure(err, chain.error());
  X509* certificate = sk_X509_value(certificates->get(), 0);
  if (EVP_PKEY_eq(X509_get0_pubkey(certificate), key->get()) != 1) {
    ERR_clear_error();
    return failure(err, Error{"SOFTCERT_KEY_MISMATCH", "the certificate does not carry the key made for it"});
  }
  if (auto chained = verify_chain(certificate, chain->get()); !chained) return failure(err, chained.error());

  const nlohmann::json& status = answer["certificate"];
  auto p12 = pkcs12_der(key->get(), certificate, chain->get(), *password, "softcert " + json_text(status, "serial"));
  if (!p12) return failure(err, p12.error());
  // The password file first: a PKCS#12 is never on disk without the way to open it.
  if (generate_password) {
    if (auto written = write_atomically(password_out, *password + "\n", 0600); !written) {
      return failure(err, written.error());
    }
  }
  for (const auto& [file, contents, mode] :
       {std::tuple{p12_file, std::string_view(*p12), mode_t{0600}},
        std::tuple{certificate_file, std::string_view(certificate_pem), mode_t{0644}},
        std::tuple{chain_file, std::string_view(chain_pem), mode_t{0644}}}) {
    if (auto written = write_atomically(file, contents, mode); !written) return failure(err, written.error());
  }

  if (options.json) {
    const nlohmann::json report{{"serial", json_text(status, "serial")},
                                {"state", json_text(status, "state")},
                                {"not_after", json_text(status, "not_after")},
                                {"key_type", options.key_type},
                                {"certificate", certificate_file.string()},
                                {"chain", chain_file.string()},
                                {"pkcs12", p12_file.string()},
                                {"password_file", generate_password ? password_out.string() : options.password_file}};
    std::fprintf(out, "%s\n", report.dump().c_str());
    return kExitDone;
  }
  std::fprintf(out,
               "downloaded soft certificate %s (state %s, valid until %s)\n"
               "  certificate: %s\n  chain:       %s\n  PKCS#12:     %s (mode 0600)\n",
               json_text(status, "serial").c_str(), json_text(status, "state").c_str(),
               json_text(status, "not_after").c_str(), certificate_file.c_str(), chain_file.c_str(), p12_file.c_str());
  if (generate_password) {
    std::fprintf(out, "  password:    generated and written to %s (mode 0600); keep it with the file\n",
                 password_out.c_str());
  }
  return kExitDone;
}

}  // namespace

int run_softcert_command(const std::vector<std::string>& args, std::FILE* out, std::FILE* err) {
  if (args.empty()) return usage_error(err, "missing subcommand (download)");
  if (args.front() == "--help" || args.front() == "-h" || args.front() == "help" ||
      std::find(args.begin(), args.end(), "--help") != args.end()) {
    std::fputs(kSoftcertHelp, out);
    return kExitDone;
  }
  if (args.front() == "download") return run_download(args, out, err);
  return usage_error(err, "unknown subcommand '" + args.front() + "'");
}

}  // namespace kiosk::ctl
