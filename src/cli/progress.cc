#include "cli/progress.h"

#include <chrono>
#include <cmath>

#include <fmt/format.h>

namespace eden::cli {

std::string Thousands(size_t n) {
  std::string digits = std::to_string(n), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

std::string FormatSeconds(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0 || seconds > 1e8) return "--:--";
  const auto s = static_cast<long long>(seconds + 0.5);
  if (s >= 3600) return fmt::format("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60);
  return fmt::format("{}:{:02}", s / 60, s % 60);
}

std::string FormatBytes(uint64_t bytes) {
  if (bytes >= 1'000'000'000) return fmt::format("{:.2f} GB", bytes / 1e9);
  return fmt::format("{:.1f} MB", bytes / 1e6);
}

std::string ProgressText(std::string_view label, size_t done, size_t total, double elapsed_s, std::string_view extra) {
  std::string line = fmt::format("{}  {}/{}", label, Thousands(done), Thousands(total));
  if (total > 0) line += fmt::format("  {:.0f}%", std::floor(100.0 * std::min(done, total) / total));
  const double rate = elapsed_s > 0 ? done / elapsed_s : 0;
  line += fmt::format("  {}/s  {} elapsed",
                      rate >= 100 ? Thousands(static_cast<size_t>(rate)) : fmt::format("{:.1f}", rate),
                      FormatSeconds(elapsed_s));
  if (done < total) line += "  ETA " + (rate > 0 ? FormatSeconds((total - done) / rate) : std::string("--:--"));
  if (!extra.empty()) line += fmt::format("  {}", extra);
  return line;
}

Progress::Progress(std::FILE* out, bool live, Now now) : out_(out), live_(live), now_(std::move(now)) {
  if (!now_) {
    now_ = [] { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); };
  }
}

void Progress::Start(std::string label, size_t total, Figures figures) {
  label_ = std::move(label);
  figures_ = std::move(figures);
  total_ = total;
  done_ = 0;
  active_ = true;
  drawn_ = false;
  start_ = last_print_ = now_();
  printed_ = false;
}

void Progress::Update(size_t done) {
  if (!active_) return;
  done_ = done;
  const double now = now_();
  if (live_) {
    if (drawn_ && now - last_print_ < 0.1) return;
  } else {
    // Another 5% since the last line, or 10 s: whichever comes first (lines never bunch up).
    const size_t printed = printed_ ? printed_done_ : 0;
    const size_t step = std::max<size_t>((total_ + 19) / 20, 1);  // At most 20 lines a phase.
    if (done < printed + step && now - last_print_ < 10) return;
  }
  Print(false);
}

void Progress::Done(size_t done) {
  if (!active_) return;
  done_ = done;
  // A plain line already showed these figures (the last update reached 100%): not twice.
  if (live_ || !printed_ || printed_done_ != done) Print(true);
  active_ = false;
}

void Progress::Clear() {
  if (!live_ || !drawn_) return;
  fmt::print(out_, "\r\033[K");
  drawn_ = false;
}

void Progress::Print(bool last) {
  const double now = now_();
  last_print_ = now;
  printed_ = true;
  printed_done_ = done_;
  const std::string text =
      "  " + ProgressText(label_, done_, total_, now - start_, figures_ ? figures_() : std::string());
  if (live_) {
    fmt::print(out_, "\r\033[K{}{}", text, last ? "\n" : "");
    drawn_ = !last;
  } else {
    fmt::print(out_, "{}\n", text);
  }
  std::fflush(out_);
}

}  // namespace eden::cli
