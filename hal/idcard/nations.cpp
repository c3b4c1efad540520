// The ethnic-group codes of GB/T 3304 as resident ID cards store them, with the standard's Chinese
// names and its official romanisations (which differ from common English names: Zang for Tibetan,
// Chosen for Korean, Man for Manchu, Gin for Jing).
#include <algorithm>
#include <array>

#include "hal/idcard/id_document.hpp"

namespace kiosk::hal::idcard {
namespace {

// One entry per line, in code order, so the table reads like the standard.
// clang-format off
constexpr std::array<Nation, 58> kNations{{
    {"01", "汉", "Han"},
    {"02", "蒙古", "Mongol"},
    {"03", "回", "Hui"},
    {"04", "藏", "Zang"},
    {"05", "维吾尔", "Uygur"},
    {"06", "苗", "Miao"},
    {"07", "彝", "Yi"},
    {"08", "壮", "Zhuang"},
    {"09", "布依", "Buyei"},
    {"10", "朝鲜", "Chosen"},
    {"11", "满", "Man"},
    {"12", "侗", "Dong"},
    {"13", "瑶", "Yao"},
    {"14", "白", "Bai"},
    {"15", "土家", "Tujia"},
    {"16", "哈尼", "Hani"},
    {"17", "哈萨克", "Kazak"},
    {"18", "傣", "Dai"},
    {"19", "黎", "Li"},
    {"20", "傈僳", "Lisu"},
    {"21", "佤", "Va"},
    {"22", "畲", "She"},
    {"23", "高山", "Gaoshan"},
    {"24", "拉祜", "Lahu"},
    {"25", "水", "Sui"},
    {"26", "东乡", "Dongxiang"},
    {"27", "纳西", "Naxi"},
    {"28", "景颇", "Jingpo"},
    {"29", "柯尔克孜", "Kirgiz"},
    {"30", "土", "Tu"},
    {"31", "达斡尔", "Daur"},
    {"32", "仫佬", "Mulao"},
    {"33", "羌", "Qiang"},
    {"34", "布朗", "Blang"},
    {"35", "撒拉", "Salar"},
    {"36", "毛南", "Maonan"},
    {"37", "仡佬", "Gelao"},
    {"38", "锡伯", "Xibe"},
    {"39", "阿昌", "Achang"},
    {"40", "普米", "Pumi"},
    {"41", "塔吉克", "Tajik"},
    {"42", "怒", "Nu"},
    {"43", "乌孜别克", "Uzbek"},
    {"44", "俄罗斯", "Russ"},
    {"45", "鄂温克", "Ewenki"},
    {"46", "德昂", "Deang"},
    {"47", "保安", "Bonan"},
    {"48", "裕固", "Yugur"},
    {"49", "京", "Gin"},
    {"50", "塔塔尔", "Tatar"},
    {"51", "独龙", "Derung"},
    {"52", "鄂伦春", "Oroqen"},
    {"53", "赫哲", "Hezhen"},
    {"54", "门巴", "Monba"},
    {"55", "珞巴", "Lhoba"},
    {"56", "基诺", "Jino"},
    {"97", "其他", "Other"},
    {"98", "外国血统中国籍人士", "Foreign origin"},
}};
// clang-format on

}  // namespace

std::optional<Nation> nation_by_code(std::string_view code) {
  const auto found = std::ranges::find(kNations, code, &Nation::code);
  if (found == kNations.end()) return std::nullopt;
  return *found;
}

std::span<const Nation> nations() { return kNations; }

}  // namespace kiosk::hal::idcard
