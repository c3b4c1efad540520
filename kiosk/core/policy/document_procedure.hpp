// How one kind of identity document is verified (REQ-05, REQ-08): the methods that may verify it,
// the sides that must be imaged and whether a second person confirms the verification. The rule
// pack holds one procedure per document type; a transaction copies its channel's procedures when
// it opens, so the workflow never reads files.
#pragma once

#include <array>
#include <map>
#include <string_view>
#include <utility>
#include <vector>

#include "kiosk/core/domain.hpp"

namespace kiosk::policy {

// chip-read: the MPS SAM card reader; nciis: the MPS online identity check; document-image: the
// document is checked from images of its sides (no chip the SAM can read).
enum class VerificationMethod { chip_read, nciis, document_image };
enum class DocumentSide { front, back };

struct DocumentProcedure {
  std::vector<VerificationMethod> methods;  // never empty in a loaded pack
  std::vector<DocumentSide> images;         // sides that must be imaged
  bool reviewer_confirmation = false;       // a reviewer confirms the verification (REQ-08 [I])

  bool operator==(const DocumentProcedure&) const = default;
};

// The documents one channel accepts, each with its procedure.
using AcceptedDocuments = std::map<DocumentType, DocumentProcedure>;

}  // namespace kiosk::policy

namespace kiosk {
template <>
struct EnumNames<policy::VerificationMethod> {
  using T = policy::VerificationMethod;
  static constexpr std::array values = std::to_array<std::pair<T, std::string_view>>({
      {T::chip_read, "chip-read"},
      {T::nciis, "nciis"},
      {T::document_image, "document-image"},
  });
};
template <>
struct EnumNames<policy::DocumentSide> {
  using T = policy::DocumentSide;
  static constexpr std::array values = std::to_array<std::pair<T, std::string_view>>({
      {T::front, "front"},
      {T::back, "back"},
  });
};
}  // namespace kiosk
