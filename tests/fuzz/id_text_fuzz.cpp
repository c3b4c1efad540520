// Feeds arbitrary bytes to every card-data parser: each outcome is a value or one of its documented
// error codes, and whatever parses comes back unchanged through its encoder (a decoder and an
// encoder that disagree would corrupt the simulator's cards and the evidence we hash).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <string_view>

#include "hal/idcard/id_document.hpp"

namespace {

using namespace kiosk::hal::idcard;

bool is_one_of(const kiosk::Error& error, std::initializer_list<std::string_view> codes) {
  return std::ranges::find(codes, error.code) != codes.end();
}

void check_text_block(std::span<const std::uint8_t> block) {
  const auto document = parse_text_block(block);
  if (!document) {
    if (!is_one_of(document.error(), {"ID_TEXT_LENGTH", "ID_TEXT_ENCODING", "ID_TEXT_FIELD"})) __builtin_trap();
    return;
  }
  const auto encoded = encode_text_block(*document);
  if (!encoded) __builtin_trap();
  const auto again = parse_text_block(*encoded);
  if (!again || !(*again == *document)) __builtin_trap();
  // Date checks must not crash on any decoded document.
  (void)check_document(*document, std::chrono::year{2024} / 1 / 1);
}

void check_read_reply(std::span<const std::uint8_t> data, bool with_fingerprint) {
  const auto read = parse_read_reply(data, with_fingerprint);
  if (!read) {
    if (!is_one_of(read.error(), {"ID_READ_REPLY_LENGTH", "ID_TEXT_ENCODING", "ID_TEXT_FIELD"})) __builtin_trap();
    return;
  }
  const std::optional<std::span<const std::uint8_t>> fingerprint =
      with_fingerprint ? std::optional(std::span<const std::uint8_t>(read->fingerprint)) : std::nullopt;
  const auto encoded = encode_read_reply(read->text_block, read->photo_wlt, fingerprint);
  if (!std::ranges::equal(encoded, data)) __builtin_trap();
  check_text_block(read->text_block);
}

void check_additional_address(std::span<const std::uint8_t> data) {
  const auto address = parse_additional_address(data);
  if (!address) {
    if (!is_one_of(address.error(), {"ID_TEXT_LENGTH", "ID_TEXT_ENCODING"})) __builtin_trap();
    return;
  }
  const auto encoded = encode_additional_address(*address);
  if (!encoded) __builtin_trap();
  const auto again = parse_additional_address(*encoded);
  if (!again || *again != *address) __builtin_trap();
}

void check_sam_id(std::span<const std::uint8_t> data) {
  const auto id = parse_sam_id(data);
  if (!id) {
    if (id.error().code != "SAM_ID_LENGTH") __builtin_trap();
    return;
  }
  if (!std::ranges::equal(encode_sam_id(*id), data)) __builtin_trap();
  if (id->to_string().size() > 44) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::uint8_t> bytes(data, size);
  check_text_block(bytes);
  // Inputs longer than a block still exercise the field decoders through their first 256 bytes.
  if (size > kTextBlockBytes) check_text_block(bytes.first(kTextBlockBytes));
  check_read_reply(bytes, false);
  check_read_reply(bytes, true);
  check_additional_address(bytes);
  check_sam_id(bytes);
  return 0;
}
