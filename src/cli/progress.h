#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <string>
#include <string_view>

namespace eden::cli {

/// Counts with thousands separators: 100000 -> "100,000".
std::string Thousands(size_t n);

/// Seconds as "m:ss" (or "h:mm:ss" from an hour on); "--:--" for a time not known.
std::string FormatSeconds(double seconds);

/// Bytes as "12.3 MB" (or "2.35 GB" from a gigabyte on).
std::string FormatBytes(uint64_t bytes);

/// One progress line: "extract  12,345/100,000  12%  1,234/s  0:10 elapsed  ETA 1:11" followed
/// by `extra` ("stored 12,300  failed 45"). The rate is the phase's average; no ETA before an
/// item is done. Pure: tests call it directly.
std::string ProgressText(std::string_view label, size_t done, size_t total, double elapsed_s, std::string_view extra);

/// A phase's progress on the console. On a terminal (`live`) one line redrawn in place (at most
/// ten times a second); otherwise a plain line each time another 5% is done or 10 s have passed
/// (whichever comes first), so a log of a 100,000-row run stays a page long. `Done` prints the last figures on
/// their own line. `Clear` blanks a live line before something else is printed (a failure);
/// the next update draws it again.
class Progress {
 public:
  using Now = std::function<double()>;  ///< Seconds on a steady clock (injected by tests).
  Progress(std::FILE* out, bool live, Now now = {});

  /// Starts a phase. `figures` gives the text after the common figures (pages; stored and
  /// failed counts); it is called only for a line that is printed, never per update.
  using Figures = std::function<std::string()>;
  void Start(std::string label, size_t total, Figures figures = {});
  void Update(size_t done);
  /// Prints the phase's last line with `done` and ends the phase.
  void Done(size_t done);
  /// Ends a phase left unfinished (a run that stopped early) with the last count it was given.
  void Finish() { Done(done_); }
  void Clear();
  bool active() const { return active_; }

 private:
  void Print(bool last);

  std::FILE* out_;
  bool live_;
  Now now_;
  std::string label_;
  Figures figures_;
  size_t total_ = 0, done_ = 0;
  bool active_ = false;
  bool drawn_ = false;  ///< A live line is on the screen now.
  double start_ = 0, last_print_ = 0;
  bool printed_ = false;  ///< A line of this phase was printed, showing `printed_done_`.
  size_t printed_done_ = 0;
};

}  // namespace eden::cli
