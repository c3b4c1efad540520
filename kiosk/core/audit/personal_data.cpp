#include "kiosk/core/audit/personal_data.hpp"

#include "kiosk/core/log.hpp"

namespace kiosk::audit {

std::string mask_name(std::string_view /*name*/) { return std::string(kMaskedName); }

std::string mask_id(std::string_view id_number) { return log::mask_id_number(id_number); }

}  // namespace kiosk::audit
