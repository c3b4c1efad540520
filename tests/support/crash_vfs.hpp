// A SQLite VFS that simulates a power cut (issue 3 item 10). It wraps the default unix VFS: every
// write goes to the real file at once, and the VFS remembers, per file, each write and truncation
// made since that file's last xSync together with the bytes it replaced. power_cut() undoes all of
// them (optionally keeping a random subset, to model a disk that reorders unsynced writes), so the
// files hold exactly what a disk would have kept. After a cut the old connection is dead: its
// writes, syncs, truncations and deletions fail, and it can only be closed.
// The model and its limits are described in kiosk/core/journal/README.md. Shared by the journal's
// and the outbox's power-cut tests.
#pragma once

#include <cstdint>

namespace kiosk::testing {

class CrashVfs {
 public:
  static constexpr const char* kName = "crashsim";

  // Registers the VFS (once per process) under kName, not as the default.
  static bool install();
  // Forgets every remembered write and clears a cut: call between scenarios, after closing.
  static void reset();
  // Cuts the power when the n-th write, sync or truncation from now starts (1 = the next one),
  // as power_cut(keep_probability, seed) would.
  static void arm_cut_after_operations(std::uint64_t n, double keep_probability = 0.0, std::uint64_t seed = 1);
  // Cuts the power now. keep_probability > 0 keeps each unsynced write with that probability.
  static void power_cut(double keep_probability = 0.0, std::uint64_t seed = 1);

  [[nodiscard]] static bool power_is_cut();
  // Unsynced writes and truncations undone by the last cut.
  [[nodiscard]] static std::uint64_t discarded_at_last_cut();
  // Writes, syncs and truncations seen since reset().
  [[nodiscard]] static std::uint64_t operations();
};

}  // namespace kiosk::testing
