// Enrolment steps on a SoftHSM2 token through the PKCS#11 driver, each beside an anchor measured in
// the same run:
//   key generation   vs  OpenSSL generating the same key type in memory (EVP_PKEY_keygen)
//   request signing  vs  OpenSSL signing the same request with an in-memory key (X509_REQ_sign)
//   certificate import vs writing the same DER to a file and fsyncing it (the durable write a
//                         file-backed token store must do anyway)
// It prints medians and ratios; it never asserts a time.
//
// Usage: token_bench --work-dir DIR [--iterations N]
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "softhsm_fixture.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using namespace kiosk::hal::token;

double median_ms(std::vector<double> samples) {
  std::sort(samples.begin(), samples.end());
  return samples.empty() ? 0.0 : samples[samples.size() / 2] * 1000.0;
}

// Runs `step` `iterations` times and returns the seconds of each run; false from `step` aborts.
bool time_steps(int iterations, const std::function<bool()>& step, std::vector<double>& seconds) {
  for (int i = 0; i < iterations; ++i) {
    const auto started = Clock::now();
    if (!step()) return false;
    seconds.push_back(std::chrono::duration<double>(Clock::now() - started).count());
  }
  return true;
}

void report(const char* what, const std::vector<double>& measured, const char* anchor_name,
            const std::vector<double>& anchor) {
  const double measured_ms = median_ms(measured);
  const double anchor_ms = median_ms(anchor);
  std::printf("%-28s median %8.2f ms   anchor (%s) %8.3f ms   ratio %7.1fx\n", what, measured_ms, anchor_name,
              anchor_ms, anchor_ms > 0 ? measured_ms / anchor_ms : 0.0);
}

EVP_PKEY* generate_in_memory(KeyType type) {
  EVP_PKEY_CTX* context = EVP_PKEY_CTX_new_from_name(nullptr, type == KeyType::rsa_2048 ? "RSA" : "EC", nullptr);
  EVP_PKEY* key = nullptr;
  bool ok = context != nullptr && EVP_PKEY_keygen_init(context) == 1;
  if (ok && type == KeyType::rsa_2048) ok = EVP_PKEY_CTX_set_rsa_keygen_bits(context, 2048) == 1;
  if (ok && type == KeyType::ec_p256) ok = EVP_PKEY_CTX_set_group_name(context, "prime256v1") == 1;
  if (ok) ok = EVP_PKEY_keygen(context, &key) == 1;
  EVP_PKEY_CTX_free(context);
  return ok ? key : nullptr;
}

bool sign_in_memory(EVP_PKEY* key) {
  X509_REQ* request = X509_REQ_new();
  X509_NAME* name = X509_REQ_get_subject_name(request);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("Bench Investor"), -1, -1,
                             0);
  X509_REQ_set_pubkey(request, key);
  const bool ok = X509_REQ_sign(request, key, EVP_sha256()) > 0;
  X509_REQ_free(request);
  return ok;
}

bool write_and_sync(const std::filesystem::path& path, const std::vector<std::uint8_t>& bytes) {
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd < 0) return false;
  const bool ok = write(fd, bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size()) && fsync(fd) == 0;
  close(fd);
  return ok;
}

int run(const std::filesystem::path& work_dir, int iterations) {
  std::filesystem::create_directories(work_dir);
  testing::SoftHsmDir hsm(work_dir);
  if (!hsm.init_token("bench")) {
    std::fprintf(stderr, "token_bench: softhsm2-util could not initialise a token\n");
    return 1;
  }
  auto module = Pkcs11Module::load(SOFTHSM2_MODULE);
  if (!module) {
    std::fprintf(stderr, "token_bench: %s\n", module.error().error.to_string().c_str());
    return 1;
  }
  Pkcs11Driver driver(*module);
  auto slot = testing::slot_with_label(driver, "bench");
  auto opened = slot ? driver.open_session(*slot) : std::unexpected(TokenError{});
  if (!opened) {
    std::fprintf(stderr, "token_bench: no session on the bench token\n");
    return 1;
  }
  TokenSession& session = **opened;
  std::string pin = testing::kUserPin;
  if (auto login = session.login_user(pin); !login) {
    std::fprintf(stderr, "token_bench: %s\n", login.error().error.to_string().c_str());
    return 1;
  }
  const testing::ThrowawayCa ca;
  SubjectName subject;
  subject.common_name = "Bench Investor";
  std::printf("token_bench: SoftHSM2 via PKCS#11, %d iterations per step, medians\n", iterations);

  for (const KeyType type : {KeyType::ec_p256, KeyType::rsa_2048}) {
    const std::string name(to_string(type));
    std::vector<TokenKey> keys;
    std::vector<double> keygen, keygen_anchor, signing, signing_anchor, import, import_anchor;
    std::string failure;

    const bool ok = time_steps(
                        iterations,
                        [&] {
                          auto key = session.generate_key_pair(type, "bench");
                          if (!key) failure = key.error().error.to_string();
                          if (key) keys.push_back(std::move(*key));
                          return key.has_value();
                        },
                        keygen) &&
                    time_steps(
                        iterations,
                        [&] {
                          EVP_PKEY* key = generate_in_memory(type);
                          EVP_PKEY_free(key);
                          return key != nullptr;
                        },
                        keygen_anchor);
    if (!ok) {
      std::fprintf(stderr, "token_bench: %s key generation failed: %s\n", name.c_str(), failure.c_str());
      return 1;
    }
    std::vector<std::vector<std::uint8_t>> requests;
    std::size_t index = 0;
    const bool signed_ok = time_steps(
        iterations,
        [&] {
          auto request = session.sign_request(keys[index++], subject);
          if (!request) failure = request.error().error.to_string();
          if (request) requests.push_back(std::move(request->der));
          return request.has_value();
        },
        signing);
    EVP_PKEY* memory_key = generate_in_memory(type);
    const bool anchor_ok = time_steps(
        iterations, [&] { return sign_in_memory(memory_key); }, signing_anchor);
    EVP_PKEY_free(memory_key);
    if (!signed_ok || !anchor_ok) {
      std::fprintf(stderr, "token_bench: %s request signing failed: %s\n", name.c_str(), failure.c_str());
      return 1;
    }
    std::vector<std::vector<std::uint8_t>> certificates;
    for (std::size_t i = 0; i < requests.size(); ++i) {
      certificates.push_back(ca.issue(requests[i], static_cast<long>(i + 1)));
    }
    index = 0;
    const bool imported_ok = time_steps(
        iterations,
        [&] {
          auto imported = session.import_certificate(keys[index].id, certificates[index], "bench");
          ++index;
          if (!imported) failure = imported.error().error.to_string();
          return imported.has_value();
        },
        import);
    index = 0;
    const bool write_ok = time_steps(
        iterations,
        [&] { return write_and_sync(work_dir / "anchor.der", certificates[index++ % certificates.size()]); },
        import_anchor);
    if (!imported_ok || !write_ok) {
      std::fprintf(stderr, "token_bench: %s certificate import failed: %s\n", name.c_str(), failure.c_str());
      return 1;
    }
    report((name + " key generation").c_str(), keygen, "EVP_PKEY_keygen", keygen_anchor);
    report((name + " request signing").c_str(), signing, "X509_REQ_sign", signing_anchor);
    report((name + " certificate import").c_str(), import, "write+fsync", import_anchor);
    std::printf("%-28s keygen %.2f + request %.2f + import %.2f = %.2f ms on the token (CA issuance not included)\n",
                (name + " enrolment split").c_str(), median_ms(keygen), median_ms(signing), median_ms(import),
                median_ms(keygen) + median_ms(signing) + median_ms(import));
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::filesystem::path work_dir;
  int iterations = 10;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--work-dir") == 0) {
      work_dir = argv[i + 1];
    } else if (std::strcmp(argv[i], "--iterations") == 0) {
      iterations = std::max(1, std::atoi(argv[i + 1]));
    } else {
      std::fprintf(stderr, "usage: token_bench --work-dir DIR [--iterations N]\n");
      return 2;
    }
  }
  if (work_dir.empty()) {
    std::fprintf(stderr, "usage: token_bench --work-dir DIR [--iterations N]\n");
    return 2;
  }
  return run(work_dir, iterations);
}
