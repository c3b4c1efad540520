// The package archive for upload (FORMAT.md, "Archive for upload"): random access over a sealed
// package's ustar stream, its determinism, what GNU tar makes of it, and every way the strict
// extractor refuses a malformed archive without leaving anything behind.
#include "sync/package/package_archive.hpp"

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "tests/unit/package/package_test_support.hpp"

namespace kiosk::sync::package::testing {
namespace {

// Reads the whole archive front to back in one pass of 64 KiB pieces.
std::string read_sequentially(PackageArchiveReader& reader) {
  std::string bytes;
  std::vector<std::uint8_t> buffer(64 * 1024);
  for (std::uint64_t at = 0;;) {
    auto got = reader.read_at(at, buffer);
    if (!got) {
      ADD_FAILURE() << got.error().to_string();
      return bytes;
    }
    if (*got == 0) break;
    bytes.append(reinterpret_cast<const char*>(buffer.data()), *got);
    at += *got;
  }
  return bytes;
}

std::string sha256_of(std::string_view bytes) {
  return journal::sha256_hex(std::span(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()));
}

// An independent ustar writer, straight from FORMAT.md's header table, so that the tests do not
// check the production code against itself. `type` and `linkname` let a test write what the
// archive format forbids.
struct TarEntry {
  TarEntry(std::string entry_name, std::string entry_data, char entry_type = '0', std::string entry_linkname = {})
      : name(std::move(entry_name)),
        data(std::move(entry_data)),
        type(entry_type),
        linkname(std::move(entry_linkname)) {}
  std::string name;
  std::string data;
  char type = '0';
  std::string linkname;
};

void put_text(std::string& block, std::size_t offset, std::string_view text) {
  std::copy(text.begin(), text.end(), block.begin() + static_cast<std::ptrdiff_t>(offset));
}

void set_checksum(std::string& block) {
  put_text(block, 148, "        ");
  unsigned sum = 0;
  for (std::size_t i = 0; i < 512; ++i) sum += static_cast<unsigned char>(block[i]);
  char text[9];
  std::snprintf(text, sizeof text, "%06o", sum);
  put_text(block, 148, std::string_view(text, 6));
  block[154] = '\0';
  block[155] = ' ';
}

std::string tar_header(const TarEntry& entry) {
  std::string block(512, '\0');
  put_text(block, 0, entry.name);
  put_text(block, 100, "0000644");
  put_text(block, 108, "0000000");
  put_text(block, 116, "0000000");
  char size[13];
  std::snprintf(size, sizeof size, "%011llo", static_cast<unsigned long long>(entry.data.size()));
  put_text(block, 124, size);
  put_text(block, 136, "00000000000");
  block[156] = entry.type;
  put_text(block, 157, entry.linkname);
  put_text(block, 257,
           std::string_view("ustar\0"
                            "00",
                            8));
  put_text(block, 329, "0000000");
  put_text(block, 337, "0000000");
  set_checksum(block);
  return block;
}

std::string tar_of(const std::vector<TarEntry>& entries) {
  std::string archive;
  for (const auto& entry : entries) {
    archive += tar_header(entry);
    archive += entry.data;
    archive.append((512 - entry.data.size() % 512) % 512, '\0');
  }
  archive.append(1024, '\0');
  return archive;
}

// The package's files as TarEntry values, sorted by name.
std::vector<TarEntry> entries_of_directory(const fs::path& directory) {
  std::map<std::string, std::string> files;
  for (const auto& entry : fs::directory_iterator(directory)) {
    files[entry.path().filename().string()] = read_file(entry.path());
  }
  std::vector<TarEntry> entries;
  for (auto& [name, data] : files) entries.push_back(TarEntry{name, data});
  return entries;
}

// An anonymous in-memory file holding `bytes`, positioned at its start.
class MemoryFile {
 public:
  explicit MemoryFile(std::string_view bytes) : fd_(::memfd_create("package_archive_test", 0)) {
    EXPECT_GE(fd_, 0);
    EXPECT_EQ(::write(fd_, bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
    EXPECT_EQ(::lseek(fd_, 0, SEEK_SET), 0);
  }
  MemoryFile(const MemoryFile&) = delete;
  MemoryFile& operator=(const MemoryFile&) = delete;
  ~MemoryFile() { ::close(fd_); }
  [[nodiscard]] int fd() const { return fd_; }

 private:
  int fd_;
};

Result<ExtractedPackage> extract_bytes(std::string_view bytes, const fs::path& out_dir, ExtractLimits limits = {}) {
  MemoryFile file(bytes);
  return extract_package_archive(file.fd(), out_dir, limits);
}

std::vector<std::string> names_in(const fs::path& directory) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(directory)) names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

// ---------------------------------------------------------------------------------------------
// A sealed package through the reader and back.

TEST_F(PackageFixture, ArchiveReadsTheSameAtAnyOffsetListsInTarAndExtractsToAVerifiablePackage) {
  const fs::path package = sealed_package();
  ASSERT_FALSE(package.empty());
  auto reader = PackageArchiveReader::open(package);
  ASSERT_TRUE(reader) << reader.error().to_string();

  const std::string whole = read_sequentially(*reader);
  ASSERT_EQ(whole.size(), reader->size());
  EXPECT_EQ(whole.size() % 512, 0U);
  EXPECT_EQ(reader->sha256(), sha256_of(whole));
  // The independent writer, fed the directory's files, produces the same bytes.
  EXPECT_EQ(whole, tar_of(entries_of_directory(package)));
  EXPECT_EQ(reader->member_names(), names_in(package));

  // Random pieces at random offsets, including ones crossing headers, data, padding and the end.
  std::mt19937_64 random(2026);
  for (int round = 0; round < 2000; ++round) {
    const std::uint64_t offset = random() % (whole.size() + 1);
    std::vector<std::uint8_t> piece(random() % 3000 + (round % 50 == 0 ? 200000 : 0));
    auto got = reader->read_at(offset, piece);
    ASSERT_TRUE(got) << got.error().to_string();
    const std::size_t expected = std::min<std::uint64_t>(piece.size(), whole.size() - offset);
    ASSERT_EQ(*got, expected) << "offset " << offset;
    ASSERT_EQ(std::string_view(reinterpret_cast<const char*>(piece.data()), *got), whole.substr(offset, *got))
        << "offset " << offset << " length " << piece.size();
  }
  // Consecutive random-sized pieces reassemble the archive.
  std::string reassembled;
  for (std::uint64_t at = 0; at < whole.size();) {
    std::vector<std::uint8_t> piece(random() % 1500 + 1);
    auto got = reader->read_at(at, piece);
    ASSERT_TRUE(got) << got.error().to_string();
    ASSERT_GT(*got, 0U);
    reassembled.append(reinterpret_cast<const char*>(piece.data()), *got);
    at += *got;
  }
  EXPECT_EQ(reassembled, whole);
  std::vector<std::uint8_t> beyond(10);
  auto past_end = reader->read_at(whole.size() + 1, beyond);
  ASSERT_FALSE(past_end);
  EXPECT_EQ(past_end.error().code, "PACKAGE_ARCHIVE_RANGE");

#ifdef KIOSK_TAR_PROGRAM
  // GNU tar lists exactly the package's files, as regular files of mode 0644, owner 0/0, time 0.
  const fs::path archive_file = dir.path() / "package.tar";
  write_file(archive_file, whole);
  const std::string command =
      std::string(KIOSK_TAR_PROGRAM) + " --numeric-owner --utc -tvf '" + archive_file.string() + "' 2>&1";
  FILE* pipe = ::popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string listing;
  char line[1024];
  while (std::fgets(line, sizeof line, pipe) != nullptr) listing += line;
  ASSERT_EQ(::pclose(pipe), 0) << listing;
  std::string expected_listing;
  for (const auto& name : names_in(package)) {
    char row[512];
    std::snprintf(row, sizeof row, "-rw-r--r-- 0/0 %llu 1970-01-01 00:00 %s\n",
                  static_cast<unsigned long long>(fs::file_size(package / name)), name.c_str());
    expected_listing += row;
  }
  // tar right-aligns the size column; compare with the columns' spacing collapsed.
  const auto squeeze = [](std::string text) {
    text.erase(std::unique(text.begin(), text.end(), [](char a, char b) { return a == ' ' && b == ' '; }), text.end());
    return text;
  };
  EXPECT_EQ(squeeze(listing), squeeze(expected_listing));
#else
  std::fprintf(stderr, "GNU tar not found at configure time: the tar listing was not checked\n");
#endif

  const fs::path received = dir.path() / "received" / package.filename();
  fs::create_directories(received.parent_path());
  auto extracted = extract_bytes(whole, received);
  ASSERT_TRUE(extracted) << extracted.error().to_string();
  EXPECT_EQ(extracted->directory, received);
  EXPECT_EQ(extracted->files, names_in(package));
  EXPECT_EQ(extracted->archive_bytes, whole.size());
  EXPECT_EQ(extracted->archive_sha256, reader->sha256());
  EXPECT_EQ(names_in(received.parent_path()), std::vector<std::string>{package.filename().string()});
  for (const auto& name : names_in(package)) EXPECT_EQ(read_file(received / name), read_file(package / name)) << name;
  auto verified = verify_package(received, device_key.get());
  EXPECT_TRUE(verified) << verified.error().to_string();
}

TEST_F(PackageFixture, ArchivingTheSamePackageTwiceGivesIdenticalBytesWhateverTheFilesMetadata) {
  const fs::path package = sealed_package();
  ASSERT_FALSE(package.empty());
  auto first = PackageArchiveReader::open(package);
  auto second = PackageArchiveReader::open(package);
  ASSERT_TRUE(first && second);
  const std::string first_bytes = read_sequentially(*first);
  EXPECT_EQ(first_bytes, read_sequentially(*second));
  EXPECT_EQ(first->sha256(), second->sha256());

  // A copy with other modes and times (and created in another order) archives the same.
  const fs::path copy = dir.path() / "copy";
  fs::create_directories(copy);
  auto names = names_in(package);
  std::reverse(names.begin(), names.end());
  for (const auto& name : names) {
    fs::copy_file(package / name, copy / name);
    fs::permissions(copy / name, fs::perms::owner_read | fs::perms::owner_write);
    fs::last_write_time(copy / name, fs::file_time_type::clock::now() - std::chrono::hours(100));
  }
  auto copied = PackageArchiveReader::open(copy);
  ASSERT_TRUE(copied) << copied.error().to_string();
  EXPECT_EQ(read_sequentially(*copied), first_bytes);
  EXPECT_EQ(copied->sha256(), first->sha256());
}

TEST_F(PackageFixture, ReadingAFileThatChangedSinceOpenIsRefused) {
  const fs::path package = sealed_package();
  ASSERT_FALSE(package.empty());
  auto reader = PackageArchiveReader::open(package);
  ASSERT_TRUE(reader) << reader.error().to_string();
  // The largest member is the four-chunk chip photo stream: grow it by one byte.
  std::string largest;
  for (const auto& name : names_in(package)) {
    if (largest.empty() || fs::file_size(package / name) > fs::file_size(package / largest)) largest = name;
  }
  {
    std::ofstream append(package / largest, std::ios::binary | std::ios::app);
    append << 'x';
  }
  std::vector<std::uint8_t> buffer(reader->size());
  auto got = reader->read_at(0, buffer);
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().code, "PACKAGE_ARCHIVE_SOURCE_CHANGED");
  EXPECT_NE(got.error().message.find(largest), std::string::npos) << got.error().message;
}

TEST_F(PackageFixture, ADirectoryThatIsNotAPackageIsNotArchived) {
  const fs::path package = sealed_package();
  ASSERT_FALSE(package.empty());
  fs::create_directory(package / "evidence.sealed");
  auto with_directory = PackageArchiveReader::open(package);
  ASSERT_FALSE(with_directory);
  EXPECT_EQ(with_directory.error().code, "PACKAGE_UNEXPECTED_FILE");
  fs::remove(package / "evidence.sealed");

  fs::create_symlink(package / kKeysFileName, package / "link-to-keys.sealed");
  auto with_link = PackageArchiveReader::open(package);
  ASSERT_FALSE(with_link);
  EXPECT_EQ(with_link.error().code, "PACKAGE_UNEXPECTED_FILE");
  fs::remove(package / "link-to-keys.sealed");

  ASSERT_EQ(::mkfifo((package / "pipe.sealed").c_str(), 0600), 0);  // refused, not waited on
  auto with_fifo = PackageArchiveReader::open(package);
  ASSERT_FALSE(with_fifo);
  EXPECT_EQ(with_fifo.error().code, "PACKAGE_UNEXPECTED_FILE");
  fs::remove(package / "pipe.sealed");

  write_file(package / "notes.txt", "x");
  auto with_stranger = PackageArchiveReader::open(package);
  ASSERT_FALSE(with_stranger);
  EXPECT_EQ(with_stranger.error().code, "PACKAGE_UNEXPECTED_FILE");
  fs::remove(package / "notes.txt");

  fs::remove(package / kSignatureFileName);
  auto unsigned_package = PackageArchiveReader::open(package);
  ASSERT_FALSE(unsigned_package);
  EXPECT_EQ(unsigned_package.error().code, "PACKAGE_FILE_MISSING");
}

// ---------------------------------------------------------------------------------------------
// The strict extractor on hand-made archives.

class ArchiveExtraction : public ::testing::Test {
 protected:
  ScratchDir dir;
  fs::path out_dir() const { return dir.path() / "tx-00000001.csdcpkg"; }

  static std::vector<TarEntry> valid_entries() {
    return {TarEntry{"keys.json", "{\"format_version\":1}"}, TarEntry{"manifest.json", "{}"},
            TarEntry{"manifest.sig", std::string(70, 's')},
            TarEntry{"s002-e01-chip_photo.sealed", std::string(1500, 'c')},
            TarEntry{"s003-e01-form_image.sealed", std::string(512, 'f')}};
  }

  // Extraction of `bytes` fails with `code` and a message containing `what`, and leaves the
  // scratch directory as empty as it was (no output, no temporary directory).
  void expect_refused(std::string_view bytes, std::string_view code, std::string_view what, ExtractLimits limits = {}) {
    auto extracted = extract_bytes(bytes, out_dir(), limits);
    ASSERT_FALSE(extracted) << "accepted an archive that should fail with: " << what;
    EXPECT_EQ(extracted.error().code, code) << extracted.error().to_string();
    EXPECT_NE(extracted.error().message.find(what), std::string::npos) << extracted.error().to_string();
    EXPECT_TRUE(names_in(dir.path()).empty()) << "left behind: " << names_in(dir.path()).front();
  }
};

TEST_F(ArchiveExtraction, TheValidHandMadeArchiveExtracts) {
  auto extracted = extract_bytes(tar_of(valid_entries()), out_dir());
  ASSERT_TRUE(extracted) << extracted.error().to_string();
  for (const auto& entry : valid_entries()) EXPECT_EQ(read_file(out_dir() / entry.name), entry.data) << entry.name;
  EXPECT_EQ(names_in(dir.path()), std::vector<std::string>{out_dir().filename().string()});
}

TEST_F(ArchiveExtraction, ABadHeaderChecksumIsRefused) {
  std::string archive = tar_of(valid_entries());
  archive[1024 + 505] = 1;  // the second header's padding, checksum not updated
  expect_refused(archive, "PACKAGE_ARCHIVE_INVALID", "archive offset 1024: header checksum does not match");
  archive = tar_of(valid_entries());
  archive[0] = 'K';  // keys.json -> Keys.json: a content change the checksum catches first
  expect_refused(archive, "PACKAGE_ARCHIVE_INVALID", "archive offset 0: header checksum");
}

TEST_F(ArchiveExtraction, ADirectoryEntryIsRefused) {
  auto entries = valid_entries();
  entries.insert(entries.begin(), TarEntry{"evidence/", "", '5'});
  expect_refused(tar_of(entries), "PACKAGE_ARCHIVE_INVALID", "archive offset 0: a directory entry");
}

TEST_F(ArchiveExtraction, ASymbolicLinkIsRefused) {
  auto entries = valid_entries();
  entries.push_back(TarEntry{"s009-e01-link.sealed", "", '2', "/etc/passwd"});
  expect_refused(tar_of(entries), "PACKAGE_ARCHIVE_INVALID", "a symbolic link");
  entries.back().type = '1';
  expect_refused(tar_of(entries), "PACKAGE_ARCHIVE_INVALID", "a hard link");
}

TEST_F(ArchiveExtraction, APathIsRefused) {
  for (const std::string name : {"../x", "../s001-e01-x.sealed", "/manifest.json", "sub/s001-e01-x.sealed"}) {
    auto entries = valid_entries();
    entries.insert(entries.begin(), TarEntry{name, "x"});
    expect_refused(tar_of(entries), "PACKAGE_ARCHIVE_INVALID", "archive offset 0: a name that is not a package file");
  }
  // A ustar prefix field is a path too.
  std::string archive = tar_of(valid_entries());
  archive[345] = 'a';
  set_checksum(archive);  // the first block only
  expect_refused(archive, "PACKAGE_ARCHIVE_INVALID", "a name prefix");
}

TEST_F(ArchiveExtraction, ADuplicateOrUnsortedNameIsRefused) {
  auto entries = valid_entries();
  entries.push_back(entries.front());
  std::rotate(entries.begin() + 1, entries.end() - 1, entries.end());  // keys.json, keys.json, manifest.json, ...
  expect_refused(tar_of(entries), "PACKAGE_ARCHIVE_INVALID", "keys.json appears twice");
  entries = valid_entries();
  std::swap(entries[0], entries[1]);
  expect_refused(tar_of(entries), "PACKAGE_ARCHIVE_INVALID", "keys.json comes after manifest.json");
}

TEST_F(ArchiveExtraction, AnUnknownOrMissingFileIsRefused) {
  auto entries = valid_entries();
  entries.insert(entries.begin() + 2, TarEntry{"notes.txt", "hello"});
  expect_refused(tar_of(entries), "PACKAGE_ARCHIVE_INVALID", "not a package file name");
  entries = valid_entries();
  entries.insert(entries.begin() + 2, TarEntry{".hidden.sealed", "hello"});
  expect_refused(tar_of(entries), "PACKAGE_ARCHIVE_INVALID", "not a package file name");
  entries = valid_entries();
  entries.erase(entries.begin() + 1);  // manifest.json
  expect_refused(tar_of(entries), "PACKAGE_ARCHIVE_INVALID", "holds no manifest.json");
  expect_refused(std::string(1024, '\0'), "PACKAGE_ARCHIVE_INVALID", "holds no manifest.json");
}

TEST_F(ArchiveExtraction, TruncationAnywhereIsRefused) {
  const std::string archive = tar_of(valid_entries());
  // Inside the data of s002-e01-chip_photo.sealed: 3 headers + 3 padded small files, its header, 100 bytes.
  const std::size_t in_data = 3 * 1024 + 512 + 100;
  expect_refused(std::string_view(archive).substr(0, in_data), "PACKAGE_ARCHIVE_INVALID",
                 "ends inside the data of s002-e01-chip_photo.sealed");
  expect_refused(std::string_view(archive).substr(0, 3 * 1024 + 512 + 1500 + 3), "PACKAGE_ARCHIVE_INVALID",
                 "ends inside the padding of s002-e01-chip_photo.sealed");
  expect_refused(std::string_view(archive).substr(0, 200), "PACKAGE_ARCHIVE_INVALID", "ends inside a header");
  expect_refused(std::string_view(archive).substr(0, archive.size() - 1024), "PACKAGE_ARCHIVE_INVALID",
                 "without its two zero end blocks");
  expect_refused(std::string_view(archive).substr(0, archive.size() - 512), "PACKAGE_ARCHIVE_INVALID",
                 "second zero end block is missing");
  expect_refused("", "PACKAGE_ARCHIVE_INVALID", "archive offset 0: the archive ends without");
}

TEST_F(ArchiveExtraction, AnythingAfterTheEndBlocksIsRefused) {
  const std::string archive = tar_of(valid_entries());
  expect_refused(archive + "x", "PACKAGE_ARCHIVE_INVALID", "bytes follow the two zero end blocks");
  // GNU tar's record padding is zeros after the end blocks: not what this format writes either.
  expect_refused(archive + std::string(512, '\0'), "PACKAGE_ARCHIVE_INVALID", "bytes follow");
  expect_refused(archive + tar_header(TarEntry{"s010-e01-late.sealed", ""}), "PACKAGE_ARCHIVE_INVALID", "bytes follow");
}

TEST_F(ArchiveExtraction, NonZeroPaddingAndOtherHeaderFieldsAreRefused) {
  std::string archive = tar_of(valid_entries());
  archive[512 + 20 + 10] = 'p';  // after keys.json's 20 data bytes
  expect_refused(archive, "PACKAGE_ARCHIVE_INVALID", "the padding after keys.json is not zero");

  const auto with_header_edit = [](std::size_t offset, std::string_view text) {
    std::string edited = tar_of(valid_entries());
    std::copy(text.begin(), text.end(), edited.begin() + static_cast<std::ptrdiff_t>(offset));
    set_checksum(edited);
    return edited;
  };
  expect_refused(with_header_edit(100, "0000755"), "PACKAGE_ARCHIVE_INVALID", "keys.json: mode is not 0000644");
  expect_refused(with_header_edit(108, "0001750"), "PACKAGE_ARCHIVE_INVALID", "uid or gid is not 0");
  expect_refused(with_header_edit(136, "14000000000"), "PACKAGE_ARCHIVE_INVALID", "mtime is not 0");
  expect_refused(with_header_edit(265, "root"), "PACKAGE_ARCHIVE_INVALID", "user or group name is not empty");
  expect_refused(with_header_edit(257, "ustar "), "PACKAGE_ARCHIVE_INVALID", "not a POSIX ustar header");
  // A base-256 size (GNU extension) or a size with spaces is not the one spelling.
  expect_refused(with_header_edit(124, " 0000000024"), "PACKAGE_ARCHIVE_INVALID", "size field");
  std::string base256 = tar_of(valid_entries());
  base256[124] = static_cast<char>(0x80);
  set_checksum(base256);
  expect_refused(base256, "PACKAGE_ARCHIVE_INVALID", "size field");
  expect_refused(with_header_edit(156, "x"), "PACKAGE_ARCHIVE_INVALID", "a pax extended header");
}

TEST_F(ArchiveExtraction, OversizeIsRefusedBeforeItsDataIsWritten) {
  const std::string archive = tar_of(valid_entries());
  ExtractLimits per_file;
  per_file.max_file_bytes = 1499;
  expect_refused(archive, "PACKAGE_ARCHIVE_LIMIT_EXCEEDED",
                 "s002-e01-chip_photo.sealed is 1500 bytes, more than the 1499 allowed per file", per_file);
  ExtractLimits count;
  count.max_files = 4;
  expect_refused(archive, "PACKAGE_ARCHIVE_LIMIT_EXCEEDED", "more than 4 files", count);
  ExtractLimits total;
  total.max_total_bytes = 20 + 2 + 70 + 1500 + 511;
  expect_refused(archive, "PACKAGE_ARCHIVE_LIMIT_EXCEEDED", "add up to more than", total);

  // A size far beyond the data that follows is refused on the header, not after reading to the end.
  auto entries = valid_entries();
  entries[1].data = std::string(kMaxManifestBytes + 1, '{');
  expect_refused(tar_of(entries), "PACKAGE_ARCHIVE_LIMIT_EXCEEDED", "manifest.json is 1048577 bytes");
  std::string huge = tar_of(valid_entries());
  std::string size_field = "77777777777";
  std::copy(size_field.begin(), size_field.end(), huge.begin() + 124);
  set_checksum(huge);
  expect_refused(huge, "PACKAGE_ARCHIVE_LIMIT_EXCEEDED", "keys.json is 8589934591 bytes");
}

TEST_F(ArchiveExtraction, AnExistingOutputIsNeverReplaced) {
  fs::create_directories(out_dir());
  write_file(out_dir() / "keep.txt", "mine");
  auto extracted = extract_bytes(tar_of(valid_entries()), out_dir());
  ASSERT_FALSE(extracted);
  EXPECT_EQ(extracted.error().code, "PACKAGE_OUTPUT_EXISTS");
  EXPECT_EQ(names_in(out_dir()), std::vector<std::string>{"keep.txt"});
  EXPECT_EQ(names_in(dir.path()), std::vector<std::string>{out_dir().filename().string()});
}

}  // namespace
}  // namespace kiosk::sync::package::testing
