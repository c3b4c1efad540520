// Fuzzes the .po catalog parser and the placeholder substitution: any bytes must give either a
// catalog or an error value, never a crash, hang or out-of-bounds read.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "ui/common/po_catalog.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto catalog = kiosk::ui::Catalog::from_text(text, "fuzz.po");
  if (catalog) {
    for (const auto& [key, value] : catalog->entries()) {
      (void)catalog->text(key, {{"seconds", "20"}, {"operation", "x"}});
    }
  }
  return 0;
}
