#include "sync/package/package_archive.hpp"

#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <optional>
#include <string_view>
#include <system_error>
#include <utility>

#include "kiosk/core/journal/atomic_file.hpp"
#include "kiosk/core/openssl_handles.hpp"
#include "sync/package/manifest.hpp"

namespace kiosk::sync::package {
namespace {

namespace fs = std::filesystem;

using Block = std::array<std::uint8_t, kArchiveBlockSize>;

// ustar header fields: offset and length (FORMAT.md, "Archive for upload").
struct Field {
  std::size_t offset;
  std::size_t length;
};
constexpr Field kName{0, 100};
constexpr Field kMode{100, 8};
constexpr Field kUid{108, 8};
constexpr Field kGid{116, 8};
constexpr Field kSize{124, 12};
constexpr Field kMtime{136, 12};
constexpr Field kChecksum{148, 8};
constexpr Field kTypeflag{156, 1};
constexpr Field kLinkname{157, 100};
constexpr Field kMagic{257, 6};
constexpr Field kVersion{263, 2};
constexpr Field kUname{265, 32};
constexpr Field kGname{297, 32};
constexpr Field kDevmajor{329, 8};
constexpr Field kDevminor{337, 8};
constexpr Field kPrefix{345, 155};
constexpr Field kPadding{500, 12};

// The fixed text of every header field that does not vary between members (NUL included).
constexpr std::string_view kModeText{"0000644\0", 8};
constexpr std::string_view kZeroIdText{"0000000\0", 8};
constexpr std::string_view kMtimeText{"00000000000\0", 12};
constexpr std::string_view kMagicText{"ustar\0", 6};
constexpr std::string_view kVersionText{"00", 2};

// Large enough to keep the system calls few, small enough to keep memory constant.
constexpr std::size_t kCopyBufferBytes = 64 * 1024;
// The fixed files have size limits of their own (manifest.hpp, package_reader.cpp); a bigger one
// is refused before its bytes are written.
constexpr std::uint64_t kMaxSignatureArchiveBytes = 256;

std::unexpected<Error> io_failure(const std::string& what) {
  return fail("PACKAGE_IO_FAILED", what + ": " + std::strerror(errno));
}

std::unexpected<Error> invalid(std::uint64_t offset, const std::string& what) {
  return fail("PACKAGE_ARCHIVE_INVALID", "archive offset " + std::to_string(offset) + ": " + what);
}

bool is_fixed_file_name(std::string_view name) {
  return name == kManifestFileName || name == kSignatureFileName || name == kKeysFileName;
}

// FORMAT.md "Manifest": a stream file is 8-100 characters of [a-z0-9_.-], ends in .sealed and
// does not start with '.'. No '/' is possible, so no member can name a path.
bool is_stream_file_name(std::string_view name) {
  return name.size() >= 8 && name.size() <= 100 && name.front() != '.' && name.ends_with(kStreamFileSuffix) &&
         std::all_of(name.begin(), name.end(), [](char c) {
           return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.';
         });
}

bool is_member_name(std::string_view name) { return is_fixed_file_name(name) || is_stream_file_name(name); }

std::uint64_t padded_size(std::uint64_t size) {
  return (size + kArchiveBlockSize - 1) / kArchiveBlockSize * kArchiveBlockSize;
}

void put(Block& block, Field field, std::string_view text) {
  std::memcpy(block.data() + field.offset, text.data(), std::min(text.size(), field.length));
}

std::string octal(std::uint64_t value, int digits) {
  std::array<char, 32> text{};
  std::snprintf(text.data(), text.size(), "%0*llo", digits, static_cast<unsigned long long>(value));
  return std::string(text.data());
}

// Sum of the header's bytes with the checksum field counted as eight spaces (POSIX ustar).
std::uint32_t header_checksum(const Block& block) {
  std::uint32_t sum = 0;
  for (std::size_t i = 0; i < block.size(); ++i) {
    const bool in_checksum = i >= kChecksum.offset && i < kChecksum.offset + kChecksum.length;
    sum += in_checksum ? static_cast<std::uint32_t>(' ') : block[i];
  }
  return sum;
}

Block make_header(std::string_view name, std::uint64_t size) {
  Block block{};
  put(block, kName, name);
  put(block, kMode, kModeText);
  put(block, kUid, kZeroIdText);
  put(block, kGid, kZeroIdText);
  put(block, kSize, octal(size, 11));  // the twelfth byte stays NUL
  put(block, kMtime, kMtimeText);
  block[kTypeflag.offset] = '0';
  put(block, kMagic, kMagicText);
  put(block, kVersion, kVersionText);
  put(block, kDevmajor, kZeroIdText);
  put(block, kDevminor, kZeroIdText);
  // Six octal digits, NUL, space: the usual spelling, which every tar reads.
  const std::string checksum = octal(header_checksum(block), 6);
  put(block, kChecksum, checksum);
  block[kChecksum.offset + 6] = '\0';
  block[kChecksum.offset + 7] = ' ';
  return block;
}

std::string_view field_text(const Block& block, Field field) {
  return {reinterpret_cast<const char*>(block.data() + field.offset), field.length};
}

bool all_zero(std::span<const std::uint8_t> bytes) {
  return std::all_of(bytes.begin(), bytes.end(), [](std::uint8_t byte) { return byte == 0; });
}

bool field_is_zero(const Block& block, Field field) {
  return all_zero(std::span<const std::uint8_t>(block.data() + field.offset, field.length));
}

// `digits` octal digits followed by NUL(s) up to the field's end, as make_header writes them.
std::optional<std::uint64_t> parse_octal(const Block& block, Field field, std::size_t digits) {
  const std::string_view text = field_text(block, field);
  std::uint64_t value = 0;
  for (std::size_t i = 0; i < digits; ++i) {
    if (text[i] < '0' || text[i] > '7') return std::nullopt;
    value = value * 8 + static_cast<std::uint64_t>(text[i] - '0');
  }
  for (std::size_t i = digits; i < field.length; ++i) {
    if (text[i] != '\0') return std::nullopt;
  }
  return value;
}

class Sha256 {
 public:
  Sha256() : context_(EVP_MD_CTX_new()) {
    ok_ = context_ && EVP_DigestInit_ex(context_.get(), EVP_sha256(), nullptr) == 1;
  }
  void update(std::span<const std::uint8_t> bytes) {
    if (ok_ && !bytes.empty()) ok_ = EVP_DigestUpdate(context_.get(), bytes.data(), bytes.size()) == 1;
  }
  Result<std::string> hex() {
    std::array<std::uint8_t, EVP_MAX_MD_SIZE> digest{};
    unsigned int length = 0;
    if (!ok_ || EVP_DigestFinal_ex(context_.get(), digest.data(), &length) != 1) {
      return fail("PACKAGE_CRYPTO_FAILED", "SHA-256 of the archive failed inside OpenSSL");
    }
    return lower_hex(std::span<const std::uint8_t>(digest.data(), length));
  }

 private:
  openssl::MdContext context_;
  bool ok_ = false;
};

class Descriptor {
 public:
  explicit Descriptor(int fd = -1) : fd_(fd) {}
  Descriptor(Descriptor&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Descriptor& operator=(Descriptor&& other) noexcept {
    if (this != &other) {
      reset();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  Descriptor(const Descriptor&) = delete;
  Descriptor& operator=(const Descriptor&) = delete;
  ~Descriptor() { reset(); }
  [[nodiscard]] int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_;
};

Result<void> write_all(int fd, std::span<const std::uint8_t> bytes, std::string_view name) {
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t step = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (step < 0 && errno == EINTR) continue;
    if (step < 0) return io_failure("cannot write " + std::string(name));
    done += static_cast<std::size_t>(step);
  }
  return {};
}

// The archive as it is read: counts the offset and hashes every byte.
class ArchiveInput {
 public:
  explicit ArchiveInput(int fd) : fd_(fd) {}

  // Reads up to out.size() bytes; fewer only at the end of the input.
  Result<std::size_t> read(std::span<std::uint8_t> out) {
    std::size_t done = 0;
    while (done < out.size()) {
      const ssize_t step = ::read(fd_, out.data() + done, out.size() - done);
      if (step < 0 && errno == EINTR) continue;
      if (step < 0) return io_failure("cannot read the archive");
      if (step == 0) break;
      done += static_cast<std::size_t>(step);
    }
    hash_.update(out.first(done));
    offset_ += done;
    return done;
  }

  [[nodiscard]] std::uint64_t offset() const { return offset_; }
  Result<std::string> sha256() { return hash_.hex(); }

 private:
  int fd_;
  std::uint64_t offset_ = 0;
  Sha256 hash_;
};

std::string type_description(char type) {
  switch (type) {
    case '5': return "a directory entry";
    case '1': return "a hard link";
    case '2': return "a symbolic link";
    case '3':
    case '4': return "a device entry";
    case '6': return "a FIFO entry";
    case 'x':
    case 'g': return "a pax extended header";
    case 'L':
    case 'K': return "a GNU long-name entry";
    default: return "an entry of type code " + std::to_string(static_cast<unsigned char>(type));
  }
}

// Checks one non-zero header block at `offset`; returns the member's name and size.
struct MemberHeader {
  std::string name;
  std::uint64_t size = 0;
};

Result<MemberHeader> check_header(const Block& block, std::uint64_t offset) {
  const auto recorded = parse_octal(block, Field{kChecksum.offset, 7}, 6);
  if (!recorded || block[kChecksum.offset + 7] != ' ') {
    return invalid(offset, "header checksum field is not six octal digits, NUL, space");
  }
  if (*recorded != header_checksum(block)) return invalid(offset, "header checksum does not match the header");
  if (field_text(block, kMagic) != kMagicText || field_text(block, kVersion) != kVersionText) {
    return invalid(offset, "not a POSIX ustar header (magic or version)");
  }
  const char type = static_cast<char>(block[kTypeflag.offset]);
  if (type != '0') return invalid(offset, type_description(type) + "; only regular files (type '0') are allowed");

  const std::string_view name_field = field_text(block, kName);
  const std::string_view name = name_field.substr(0, std::min(name_field.find('\0'), name_field.size()));
  if (!field_is_zero(block, Field{kName.offset + name.size(), kName.length - name.size()})) {
    return invalid(offset, "name field is not NUL-padded");
  }
  if (!field_is_zero(block, kPrefix)) return invalid(offset, "a name prefix (a path) is not allowed");
  // The name is echoed only once it is known to be a package file name (no arbitrary bytes in messages).
  if (!is_member_name(name)) {
    return invalid(offset,
                   "a name that is not a package file name (manifest.json, manifest.sig, keys.json or "
                   "a .sealed stream name without any path)");
  }
  const std::string where = std::string(name) + ": ";
  if (field_text(block, kMode) != kModeText) return invalid(offset, where + "mode is not 0000644");
  if (field_text(block, kUid) != kZeroIdText || field_text(block, kGid) != kZeroIdText) {
    return invalid(offset, where + "uid or gid is not 0");
  }
  if (field_text(block, kMtime) != kMtimeText) return invalid(offset, where + "mtime is not 0");
  if (!field_is_zero(block, kLinkname)) return invalid(offset, where + "link name is not empty");
  if (!field_is_zero(block, kUname) || !field_is_zero(block, kGname)) {
    return invalid(offset, where + "user or group name is not empty");
  }
  if (field_text(block, kDevmajor) != kZeroIdText || field_text(block, kDevminor) != kZeroIdText) {
    return invalid(offset, where + "device numbers are not 0");
  }
  if (!field_is_zero(block, kPadding)) return invalid(offset, where + "header padding is not zero");
  const auto size = parse_octal(block, kSize, 11);
  if (!size) return invalid(offset, where + "size field is not eleven octal digits and NUL");
  return MemberHeader{std::string(name), *size};
}

Result<void> check_limits(const MemberHeader& member, std::uint64_t offset, std::size_t files_so_far,
                          std::uint64_t bytes_so_far, const ExtractLimits& limits) {
  const auto exceeded = [&](const std::string& what) {
    return fail("PACKAGE_ARCHIVE_LIMIT_EXCEEDED", "archive offset " + std::to_string(offset) + ": " + what);
  };
  if (files_so_far + 1 > limits.max_files) {
    return exceeded("more than " + std::to_string(limits.max_files) + " files");
  }
  if (member.size > limits.max_file_bytes) {
    return exceeded(member.name + " is " + std::to_string(member.size) + " bytes, more than the " +
                    std::to_string(limits.max_file_bytes) + " allowed per file");
  }
  if (member.size > limits.max_total_bytes - std::min(bytes_so_far, limits.max_total_bytes)) {
    return exceeded("the files add up to more than the " + std::to_string(limits.max_total_bytes) + " bytes allowed");
  }
  const std::uint64_t own_limit = member.name == kManifestFileName    ? kMaxManifestBytes
                                  : member.name == kKeysFileName      ? kMaxKeysBytes
                                  : member.name == kSignatureFileName ? kMaxSignatureArchiveBytes
                                                                      : kMaxArchiveMemberBytes;
  if (member.size > own_limit) {
    return exceeded(member.name + " is " + std::to_string(member.size) + " bytes, more than the " +
                    std::to_string(own_limit) + " such a file may have");
  }
  return {};
}

// Copies one member's data (and checks its zero padding) from the archive into `dir_fd`.
Result<void> extract_member(ArchiveInput& input, int dir_fd, const MemberHeader& member) {
  Descriptor file(::openat(dir_fd, member.name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644));
  if (file.get() < 0) return io_failure("cannot create " + member.name);
  std::vector<std::uint8_t> buffer(kCopyBufferBytes);
  std::uint64_t left = member.size;
  while (left > 0) {
    const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(left, buffer.size()));
    auto got = input.read(std::span(buffer).first(want));
    if (!got) return std::unexpected(got.error());
    if (*got < want) return invalid(input.offset(), "the archive ends inside the data of " + member.name);
    if (auto written = write_all(file.get(), std::span(buffer).first(want), member.name); !written) return written;
    left -= want;
  }
  const std::size_t padding = static_cast<std::size_t>(padded_size(member.size) - member.size);
  if (padding > 0) {
    Block pad{};
    auto got = input.read(std::span(pad).first(padding));
    if (!got) return std::unexpected(got.error());
    if (*got < padding) return invalid(input.offset(), "the archive ends inside the padding of " + member.name);
    if (!all_zero(std::span(pad).first(padding))) {
      return invalid(input.offset() - padding, "the padding after " + member.name + " is not zero");
    }
  }
  if (::fsync(file.get()) != 0) return io_failure("cannot fsync " + member.name);
  return {};
}

Result<std::vector<std::string>> extract_members(ArchiveInput& input, int dir_fd, const ExtractLimits& limits) {
  std::vector<std::string> names;
  std::uint64_t total_bytes = 0;
  Block block{};
  for (;;) {
    const std::uint64_t offset = input.offset();
    auto got = input.read(block);
    if (!got) return std::unexpected(got.error());
    if (*got == 0) return invalid(offset, "the archive ends without its two zero end blocks");
    if (*got < block.size()) return invalid(offset, "the archive ends inside a header");
    if (all_zero(block)) break;
    auto header = check_header(block, offset);
    if (!header) return std::unexpected(header.error());
    if (std::find(names.begin(), names.end(), header->name) != names.end()) {
      return invalid(offset, header->name + " appears twice");
    }
    if (!names.empty() && header->name < names.back()) {
      return invalid(offset, header->name + " comes after " + names.back() + "; members must be sorted byte-wise");
    }
    if (auto within = check_limits(*header, offset, names.size(), total_bytes, limits); !within) {
      return std::unexpected(within.error());
    }
    if (auto extracted = extract_member(input, dir_fd, *header); !extracted) return std::unexpected(extracted.error());
    total_bytes += header->size;
    names.push_back(std::move(header->name));
  }
  const std::uint64_t second_end = input.offset();
  auto got = input.read(block);
  if (!got) return std::unexpected(got.error());
  if (*got < block.size() || !all_zero(block)) return invalid(second_end, "the second zero end block is missing");
  std::array<std::uint8_t, 1> extra{};
  auto after = input.read(extra);
  if (!after) return std::unexpected(after.error());
  if (*after != 0) return invalid(input.offset() - 1, "bytes follow the two zero end blocks");
  for (const std::string_view fixed : {kManifestFileName, kSignatureFileName, kKeysFileName}) {
    if (std::find(names.begin(), names.end(), fixed) == names.end()) {
      return invalid(input.offset(), "the archive holds no " + std::string(fixed));
    }
  }
  return names;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// PackageArchiveReader

PackageArchiveReader::PackageArchiveReader(PackageArchiveReader&& other) noexcept
    : members_(std::move(other.members_)), size_(other.size_), sha256_hex_(std::move(other.sha256_hex_)) {
  other.members_.clear();
}

PackageArchiveReader& PackageArchiveReader::operator=(PackageArchiveReader&& other) noexcept {
  if (this != &other) {
    close_all();
    members_ = std::move(other.members_);
    other.members_.clear();
    size_ = other.size_;
    sha256_hex_ = std::move(other.sha256_hex_);
  }
  return *this;
}

PackageArchiveReader::~PackageArchiveReader() { close_all(); }

void PackageArchiveReader::close_all() {
  for (auto& member : members_) {
    if (member.fd >= 0) ::close(member.fd);
    member.fd = -1;
  }
}

std::vector<std::string> PackageArchiveReader::member_names() const {
  std::vector<std::string> names;
  names.reserve(members_.size());
  for (const auto& member : members_) names.push_back(member.name);
  return names;
}

Result<PackageArchiveReader> PackageArchiveReader::open(const fs::path& package_dir) {
  PackageArchiveReader reader;
  std::error_code error;
  // Iterated with error codes: a listing failure is a value, never an exception.
  for (fs::directory_iterator entry(package_dir, error), end; !error && entry != end; entry.increment(error)) {
    const std::string name = entry->path().filename().string();
    // Only names that were checked are echoed; anything else is reported without its name.
    if (!is_member_name(name)) {
      return fail("PACKAGE_UNEXPECTED_FILE", "the package directory holds a file that is not a package file");
    }
    // O_NONBLOCK: a FIFO in the directory must be refused, not waited on.
    Descriptor fd(::open(entry->path().c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK));
    if (fd.get() < 0 && errno == ELOOP) return fail("PACKAGE_UNEXPECTED_FILE", name + " is a symbolic link");
    if (fd.get() < 0) return io_failure("cannot open " + name);
    struct stat info {};
    if (::fstat(fd.get(), &info) != 0) return io_failure("cannot inspect " + name);
    if (!S_ISREG(info.st_mode)) return fail("PACKAGE_UNEXPECTED_FILE", name + " is not a regular file");
    const auto size = static_cast<std::uint64_t>(info.st_size);
    if (size > kMaxArchiveMemberBytes) {
      return fail("PACKAGE_ARCHIVE_TOO_LARGE",
                  name + " is larger than the 8 GiB - 1 bytes a ustar size field can hold");
    }
    reader.members_.push_back(
        Member{name, fd.release(), size, static_cast<std::int64_t>(info.st_mtim.tv_sec), info.st_mtim.tv_nsec, 0});
  }
  if (error) return fail("PACKAGE_IO_FAILED", "cannot list the package directory: " + error.message());
  for (const std::string_view fixed : {kManifestFileName, kSignatureFileName, kKeysFileName}) {
    const bool present = std::any_of(reader.members_.begin(), reader.members_.end(),
                                     [&](const Member& member) { return member.name == fixed; });
    if (!present) return fail("PACKAGE_FILE_MISSING", "the package has no " + std::string(fixed));
  }
  // std::string compares with char_traits<char>::compare, which is memcmp: byte-wise, unsigned.
  std::sort(reader.members_.begin(), reader.members_.end(),
            [](const Member& a, const Member& b) { return a.name < b.name; });
  std::uint64_t offset = 0;
  for (auto& member : reader.members_) {
    member.header_offset = offset;
    offset += kArchiveBlockSize + padded_size(member.size);
  }
  reader.size_ = offset + 2 * kArchiveBlockSize;

  Sha256 hash;
  std::vector<std::uint8_t> buffer(kCopyBufferBytes);
  for (std::uint64_t at = 0; at < reader.size_;) {
    auto got = reader.read_at(at, buffer);
    if (!got) return std::unexpected(got.error());
    hash.update(std::span(buffer).first(*got));
    at += *got;
  }
  auto digest = hash.hex();
  if (!digest) return std::unexpected(digest.error());
  reader.sha256_hex_ = std::move(*digest);
  return reader;
}

Result<void> PackageArchiveReader::read_member_data(const Member& member, std::uint64_t offset_in_data,
                                                    std::span<std::uint8_t> out) {
  struct stat info {};
  if (::fstat(member.fd, &info) != 0) return io_failure("cannot inspect " + member.name);
  const auto changed = [&] {
    return fail("PACKAGE_ARCHIVE_SOURCE_CHANGED",
                member.name + " changed since the archive was opened; open the archive again");
  };
  if (static_cast<std::uint64_t>(info.st_size) != member.size || info.st_mtim.tv_sec != member.mtime_sec ||
      info.st_mtim.tv_nsec != member.mtime_nsec) {
    return changed();
  }
  std::size_t done = 0;
  while (done < out.size()) {
    const ssize_t step =
        ::pread(member.fd, out.data() + done, out.size() - done, static_cast<off_t>(offset_in_data + done));
    if (step < 0 && errno == EINTR) continue;
    if (step < 0) return io_failure("cannot read " + member.name);
    if (step == 0) return changed();  // shrank between fstat and pread
    done += static_cast<std::size_t>(step);
  }
  return {};
}

Result<std::size_t> PackageArchiveReader::read_at(std::uint64_t offset, std::span<std::uint8_t> out) {
  if (offset > size_) {
    return fail("PACKAGE_ARCHIVE_RANGE",
                "offset " + std::to_string(offset) + " is past the archive's end at " + std::to_string(size_));
  }
  const std::size_t total = static_cast<std::size_t>(std::min<std::uint64_t>(out.size(), size_ - offset));
  std::size_t done = 0;
  // The last member whose header starts at or before the position.
  auto member = std::upper_bound(members_.begin(), members_.end(), offset,
                                 [](std::uint64_t at, const Member& m) { return at < m.header_offset; });
  if (member != members_.begin()) --member;
  const auto member_end = [](const Member& m) { return m.header_offset + kArchiveBlockSize + padded_size(m.size); };
  while (done < total) {
    const std::uint64_t at = offset + done;
    const std::size_t want = total - done;
    auto piece = out.subspan(done);
    while (member != members_.end() && at >= member_end(*member)) ++member;
    if (member == members_.end()) {  // the two zero end blocks
      std::fill_n(piece.begin(), want, std::uint8_t{0});
      done += want;
      break;
    }
    const std::uint64_t in_member = at - member->header_offset;
    std::size_t step = 0;
    if (in_member < kArchiveBlockSize) {
      const Block header = make_header(member->name, member->size);
      step = std::min<std::size_t>(want, kArchiveBlockSize - static_cast<std::size_t>(in_member));
      std::memcpy(piece.data(), header.data() + in_member, step);
    } else if (const std::uint64_t in_data = in_member - kArchiveBlockSize; in_data < member->size) {
      step = static_cast<std::size_t>(std::min<std::uint64_t>(want, member->size - in_data));
      if (auto read = read_member_data(*member, in_data, piece.first(step)); !read)
        return std::unexpected(read.error());
    } else {  // zero padding up to the next block
      step = static_cast<std::size_t>(std::min<std::uint64_t>(want, member_end(*member) - at));
      std::fill_n(piece.begin(), step, std::uint8_t{0});
    }
    done += step;
  }
  return total;
}

// ---------------------------------------------------------------------------------------------
// Extraction

Result<ExtractedPackage> extract_package_archive(int archive_fd, const fs::path& out_dir, ExtractLimits limits) {
  if (out_dir.filename().empty()) return fail("PACKAGE_IO_FAILED", "the output path names no directory");
  std::error_code error;
  if (fs::exists(fs::symlink_status(out_dir, error))) {
    return fail("PACKAGE_OUTPUT_EXISTS", "the output directory already exists; an extraction never replaces one");
  }
  const fs::path parent = out_dir.has_parent_path() ? out_dir.parent_path() : fs::path(".");
  // A fresh directory beside out_dir, so the final rename stays within one file system.
  std::string temp_template = (parent / (std::string(journal::kTempPrefix) + out_dir.filename().string() + "-XXXXXX"));
  if (::mkdtemp(temp_template.data()) == nullptr) return io_failure("cannot create a temporary directory");
  const fs::path temp_dir = temp_template;
  struct TempDirGuard {
    fs::path path;
    bool keep = false;
    ~TempDirGuard() {
      if (keep) return;
      std::error_code ignored;
      fs::remove_all(path, ignored);
    }
  } guard{temp_dir};

  Descriptor dir_fd(::open(temp_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir_fd.get() < 0) return io_failure("cannot open the temporary directory");
  ArchiveInput input(archive_fd);
  auto names = extract_members(input, dir_fd.get(), limits);
  if (!names) return std::unexpected(names.error());
  auto digest = input.sha256();
  if (!digest) return std::unexpected(digest.error());
  if (::fsync(dir_fd.get()) != 0) return io_failure("cannot fsync the temporary directory");
  dir_fd.reset();
  if (::renameat2(AT_FDCWD, temp_dir.c_str(), AT_FDCWD, out_dir.c_str(), RENAME_NOREPLACE) != 0) {
    if (errno == EEXIST) {
      return fail("PACKAGE_OUTPUT_EXISTS", "the output directory appeared during extraction; it was not replaced");
    }
    return io_failure("cannot rename the extracted package into place");
  }
  guard.keep = true;
  if (auto synced = journal::fsync_directory(parent); !synced) return std::unexpected(synced.error());
  return ExtractedPackage{out_dir, std::move(*names), input.offset(), std::move(*digest)};
}

}  // namespace kiosk::sync::package
