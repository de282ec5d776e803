#pragma once

#include <optional>
#include <string>
#include <vector>

#include "source/pacs_source.h"

namespace eden::source {

/// How many sampled studies one page query asks for: about two pages of rows, from the
/// selection's instances per study, between 1 and 256. Pure.
size_t StudiesPerPageQuery(const SelectionStats& stats, int page_size);

/// Walks the selection page by page (keyset pagination, `page_size` rows a page). A sample is
/// asked for a few studies at a time (`StudiesPerPageQuery`), so each page query looks those
/// studies up by their index and sorts their rows only: a page costs the same whether the sample
/// has 8 studies or 100,000. Every row of the selection comes exactly once; the last page of a
/// chunk of studies may be short. Logic only: the queries are the source's.
class Pager {
 public:
  Pager(PacsSource& source, const Selection& selection, std::vector<std::string> study_ids, const SelectionStats& stats,
        int page_size);

  /// The next page; empty when every row has been returned. Errors are the source's.
  Result<std::vector<InstanceRow>> Next();

 private:
  PacsSource& source_;
  const Selection& selection_;
  const std::vector<std::string> study_ids_;
  const int page_size_;
  const size_t per_query_;
  size_t next_study_ = 0;           ///< First study of the next chunk.
  std::vector<std::string> chunk_;  ///< The studies being paged (a sample only).
  std::optional<std::string> after_;
  bool done_ = false;
};

}  // namespace eden::source
