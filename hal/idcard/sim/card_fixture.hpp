// A simulated card: a small TOML file in hal/idcard/sim/cards/ whose keys mirror IdDocument's fields,
// turned into the bytes a SAM would return for it. The people in the fixtures are fictional.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hal/idcard/id_document.hpp"
#include "kiosk/core/error.hpp"

namespace kiosk::hal::idcard::sim {

struct CardFixture {
  std::string name;  // the file name without .toml; also the seed of the synthetic photo
  IdDocument document;
  std::optional<std::string> additional_address;  // 追加住址; none: the SAM answers 0x91
  std::size_t fingerprint_bytes = 0;              // 0, 512 or 1024
  // What the SAM sends, computed once when the fixture is loaded.
  std::array<std::uint8_t, kTextBlockBytes> text_block{};
  std::vector<std::uint8_t> photo_wlt;    // kPhotoBytes of synthetic, opaque bytes (no real WLT exists)
  std::vector<std::uint8_t> fingerprint;  // fingerprint_bytes of synthetic, opaque bytes
  std::optional<std::vector<std::uint8_t>> additional_address_data;  // the 0x30 0x03 reply data
};

// Parses a fixture. `source_name` (the file path) starts every error message, with the line and the
// key: SIM_FIXTURE_SYNTAX (not TOML), SIM_FIXTURE_KEY (a key the fixture format does not have, or one
// the layout does not carry), SIM_FIXTURE_VALUE (wrong type, a date that is not YYYY-MM-DD, a value
// outside its set, a field the card encoding refuses), SIM_FIXTURE_MISSING (a required key).
// Messages name keys, never values: a fixture's fields have the shape of personal data.
Result<CardFixture> parse_card_fixture(std::string_view toml_text, std::string_view source_name,
                                       std::string_view fixture_name);
// Reads `file` (at most 64 KiB) and parses it; the fixture name is the file's stem.
// SIM_FIXTURE_UNREADABLE when the file cannot be read.
Result<CardFixture> load_card_fixture(const std::filesystem::path& file);
// `name` in `directory`: SIM_FIXTURE_NOT_FOUND when there is no such fixture (a name with a path
// separator or a leading dot is never looked up).
Result<CardFixture> load_named_fixture(const std::filesystem::path& directory, std::string_view name);
// The fixture names (*.toml stems) in `directory`, sorted. SIM_FIXTURE_UNREADABLE when it cannot
// be listed.
Result<std::vector<std::string>> list_card_fixtures(const std::filesystem::path& directory);

// Deterministic filler for the blocks no open source can produce: SHA-256(seed || counter), counter
// a 4-byte big-endian 0, 1, 2, ..., concatenated and cut to `bytes`. SIM_DIGEST_FAILED if OpenSSL
// cannot hash.
Result<std::vector<std::uint8_t>> synthetic_bytes(std::string_view seed, std::size_t bytes);

}  // namespace kiosk::hal::idcard::sim
