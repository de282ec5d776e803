#include "source/pager.h"

#include <algorithm>
#include <cmath>

namespace eden::source {

size_t StudiesPerPageQuery(const SelectionStats& stats, int page_size) {
  const double per_study = stats.studies > 0 ? static_cast<double>(stats.instances) / stats.studies : 1.0;
  const double studies = std::ceil(2.0 * std::max(page_size, 1) / std::max(per_study, 1.0));
  return static_cast<size_t>(std::clamp(studies, 1.0, 256.0));
}

Pager::Pager(PacsSource& source, const Selection& selection, std::vector<std::string> study_ids,
             const SelectionStats& stats, int page_size)
    : source_(source),
      selection_(selection),
      study_ids_(std::move(study_ids)),
      page_size_(std::max(page_size, 1)),
      per_query_(StudiesPerPageQuery(stats, page_size)) {}

Result<std::vector<InstanceRow>> Pager::Next() {
  const bool sampled = selection_.studies.has_value();
  while (!done_) {
    if (sampled && !after_) {  // Start the next chunk of studies.
      if (next_study_ >= study_ids_.size()) break;
      const size_t end = std::min(study_ids_.size(), next_study_ + per_query_);
      chunk_.assign(study_ids_.begin() + static_cast<std::ptrdiff_t>(next_study_),
                    study_ids_.begin() + static_cast<std::ptrdiff_t>(end));
      next_study_ = end;
    }
    auto page = source_.Page(selection_, chunk_, after_, page_size_);
    if (!page) return page;
    if (static_cast<int>(page->size()) < page_size_) {  // This chunk, or the whole selection, is done.
      after_.reset();
      done_ = !sampled;
    } else {
      after_ = page->back().instance_id;
    }
    if (!page->empty()) return page;
  }
  done_ = true;
  return std::vector<InstanceRow>{};
}

}  // namespace eden::source
