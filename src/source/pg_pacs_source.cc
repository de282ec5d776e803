#include "source/pg_pacs_source.h"

#include <libpq-fe.h>

#include <fmt/format.h>

namespace eden::source {
namespace {

struct ResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using PgResult = std::unique_ptr<PGresult, ResultDeleter>;

/// `{a,b,c}` array literal for a text[] parameter; ids are quoted so any text is safe.
std::string TextArray(const std::vector<std::string>& items) {
  std::string out = "{";
  for (size_t i = 0; i < items.size(); ++i) {
    if (i) out += ',';
    out += '"';
    for (char c : items[i]) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  return out + "}";
}

std::optional<std::string> Text(PGresult* r, int row, int col) {
  if (PQgetisnull(r, row, col)) return std::nullopt;
  return std::string(PQgetvalue(r, row, col), static_cast<size_t>(PQgetlength(r, row, col)));
}

std::optional<int64_t> Int(PGresult* r, int row, int col) {
  auto t = Text(r, row, col);
  if (!t) return std::nullopt;
  try {
    return std::stoll(*t);
  } catch (...) {
    return std::nullopt;
  }
}

/// Strips a trailing ';' and whitespace so the base query can be wrapped.
std::string Wrap(const std::string& base) {
  std::string b = base;
  while (!b.empty() && (b.back() == ';' || std::isspace(static_cast<unsigned char>(b.back())))) b.pop_back();
  return b;
}

/// $3 holds the sampled study ids, compared in the study id's own type (the array's type is
/// inferred from the column), so the planner looks the studies up by their index and a page
/// costs the rows of those studies. Compared as text, the id's index was unusable and each page
/// of an 8-study sample walked the whole instance index (1.0-1.3 s a page at 200,000 instances).
/// With every study selected, $3 is NULL and the filter folds away.
constexpr const char* kSampledStudies = "q.study_id = ANY($3)";
constexpr const char* kEveryStudy = "$3::text[] IS NULL";
const char* StudyFilterSql(bool sampled) { return sampled ? kSampledStudies : kEveryStudy; }
constexpr const char* kFilters =
    "($1::text IS NULL OR upper(q.modality::text) = ANY(string_to_array(upper(replace($1, ' ', '')), ','))) "
    "AND ($2::text IS NULL OR q.body_part::text ILIKE $2)";

class PgPacsSource final : public PacsSource {
 public:
  explicit PgPacsSource(PGconn* conn) : conn_(conn) {}
  ~PgPacsSource() override { PQfinish(conn_); }
  PgPacsSource(const PgPacsSource&) = delete;
  PgPacsSource& operator=(const PgPacsSource&) = delete;

  Result<std::vector<std::string>> SelectStudies(const Selection& s) override {
    const std::string limit = s.studies ? std::to_string(*s.studies) : std::string();
    auto r = Exec(StudySampleSql(s.base_sql),
                  {Opt(s.modality), Opt(s.body_part), s.seed.c_str(), s.studies ? limit.c_str() : nullptr});
    if (!r) return Fail(r.error());
    std::vector<std::string> ids;
    ids.reserve(static_cast<size_t>(PQntuples(r->get())));
    for (int i = 0; i < PQntuples(r->get()); ++i) ids.emplace_back(PQgetvalue(r->get(), i, 0));
    return ids;
  }

  Result<SelectionStats> Count(const Selection& s, const std::vector<std::string>& ids) override {
    const std::string array = s.studies ? TextArray(ids) : std::string();
    auto r =
        Exec(CountSql(s.base_sql, s.studies.has_value()), {Opt(s.modality), Opt(s.body_part), StudyFilter(s, array)});
    if (!r) return Fail(r.error());
    SelectionStats st;
    st.studies = Int(r->get(), 0, 0).value_or(0);
    st.series = Int(r->get(), 0, 1).value_or(0);
    st.instances = Int(r->get(), 0, 2).value_or(0);
    st.instances_without_url = Int(r->get(), 0, 3).value_or(0);
    st.studies_with_report = Int(r->get(), 0, 4).value_or(0);
    return st;
  }

  Result<std::vector<InstanceRow>> Page(const Selection& s, const std::vector<std::string>& ids,
                                        const std::optional<std::string>& after, int limit) override {
    const std::string array = s.studies ? TextArray(ids) : std::string();
    const std::string lim = std::to_string(limit);
    std::vector<const char*> params = {Opt(s.modality), Opt(s.body_part), StudyFilter(s, array), lim.c_str()};
    if (after) params.push_back(after->c_str());
    if (!has_patient_id_) {
      // patient_id is optional in the row contract: asked for once, from the query's own columns.
      auto probe = Exec(fmt::format("SELECT * FROM ({}\n) q LIMIT 0", Wrap(s.base_sql)), {});
      if (!probe) return Fail(probe.error());
      has_patient_id_ = PQfnumber(probe->get(), "patient_id") >= 0;
    }
    auto r = Exec(PageSql(s.base_sql, s.studies.has_value(), after.has_value(), *has_patient_id_), params);
    if (!r) return Fail(r.error());
    std::vector<InstanceRow> rows;
    PGresult* p = r->get();
    for (int i = 0; i < PQntuples(p); ++i) {
      InstanceRow row;
      row.study_id = Text(p, i, 0).value_or("");
      row.series_number = Int(p, i, 1);
      row.instance_id = Text(p, i, 2).value_or("");
      row.instance_number = Int(p, i, 3);
      row.file_path = Text(p, i, 4);
      row.file_url = Text(p, i, 5);
      row.report_value = Text(p, i, 6);
      row.field_created_at = Text(p, i, 7);
      row.modality = Text(p, i, 8);
      row.body_part = Text(p, i, 9);
      row.patient_id = Text(p, i, 10);
      rows.push_back(std::move(row));
    }
    return rows;
  }

 private:
  static const char* Opt(const std::optional<std::string>& v) { return v ? v->c_str() : nullptr; }
  /// The sampled study ids as an array literal (typed by PostgreSQL from the study id column);
  /// NULL when every study is selected, so the filter folds away and the planner can walk the
  /// instance id's index.
  static const char* StudyFilter(const Selection& s, const std::string& array) {
    return s.studies ? array.c_str() : nullptr;
  }

  Result<PgResult> Exec(const std::string& sql, std::vector<const char*> params) {
    if (PQstatus(conn_) != CONNECTION_OK) {
      PQreset(conn_);
      if (PQstatus(conn_) != CONNECTION_OK) {
        return Fail(ErrorCode::kUnavailable, fmt::format("database connection lost: {}", PQerrorMessage(conn_)));
      }
    }
    PgResult r(
        PQexecParams(conn_, sql.c_str(), static_cast<int>(params.size()), nullptr, params.data(), nullptr, nullptr, 0));
    if (!r || PQresultStatus(r.get()) != PGRES_TUPLES_OK) {
      std::string message = r ? PQresultErrorMessage(r.get()) : PQerrorMessage(conn_);
      while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
      const char* state = r ? PQresultErrorField(r.get(), PG_DIAG_SQLSTATE) : nullptr;
      // Class 08 (connection exception) and 57P (operator intervention) are the server's fault.
      const bool down = PQstatus(conn_) != CONNECTION_OK ||
                        (state && (std::string(state).rfind("08", 0) == 0 || std::string(state).rfind("57P", 0) == 0));
      return Fail(down ? ErrorCode::kUnavailable : ErrorCode::kInvalidArgument,
                  fmt::format("query failed: {}", message));
    }
    return r;
  }

  PGconn* conn_;
  std::optional<bool> has_patient_id_;  ///< Whether the query returns patient_id (asked once).
};

}  // namespace

std::string StudySampleSql(const std::string& base) {
  return fmt::format(
      "SELECT q.study_id::text FROM ({}\n) q WHERE {} GROUP BY q.study_id::text "
      "ORDER BY md5(q.study_id::text || $3::text), q.study_id::text LIMIT $4::bigint",
      Wrap(base), kFilters);
}

std::string CountSql(const std::string& base, bool sampled) {
  return fmt::format(
      "SELECT count(DISTINCT q.study_id::text), count(DISTINCT (q.study_id::text, q.series_number)), count(*), "
      "count(*) FILTER (WHERE q.file_url IS NULL), "
      "count(DISTINCT q.study_id::text) FILTER (WHERE q.report_value IS NOT NULL) "
      "FROM ({}\n) q WHERE {} AND {}",
      Wrap(base), kFilters, StudyFilterSql(sampled));
}

std::string PageSql(const std::string& base, bool sampled, bool after, bool patient_id) {
  // Ordered and compared in the id's own type (uuid, text, bigint...), not as text: then the
  // planner can use the id's index, and a page costs its rows, not a sort of the whole PACS.
  return fmt::format(
      "SELECT q.study_id::text, q.series_number, q.instance_id::text, q.instance_number, q.file_path::text, "
      "q.file_url::text, q.report_value::text, q.field_created_at::text, q.modality::text, q.body_part::text, {} "
      "FROM ({}\n) q WHERE {} AND {}{} ORDER BY q.instance_id LIMIT $4::int",
      patient_id ? "q.patient_id::text" : "NULL::text", Wrap(base), kFilters, StudyFilterSql(sampled),
      after ? " AND q.instance_id > $5" : "");
}

Result<std::unique_ptr<PacsSource>> ConnectPg(const PgOptions& o) {
  const std::string port = std::to_string(o.port);
  const std::string timeout = std::to_string(o.connect_timeout_s);
  const char* keys[] = {"host", "port", "dbname", "user", "password", "sslmode", "connect_timeout", "application_name",
                        nullptr};
  const char* values[] = {o.host.c_str(),    port.c_str(),    o.dbname.c_str(), o.user.c_str(), o.password.c_str(),
                          o.sslmode.c_str(), timeout.c_str(), "eden-etl",       nullptr};
  PGconn* conn = PQconnectdbParams(keys, values, 0);
  if (conn == nullptr || PQstatus(conn) != CONNECTION_OK) {
    std::string message = conn ? PQerrorMessage(conn) : "out of memory";
    while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
    if (conn) PQfinish(conn);
    // libpq's message names host and port, never the password.
    return Fail(ErrorCode::kUnavailable, fmt::format("cannot connect to the PACS database: {}", message));
  }
  return std::unique_ptr<PacsSource>(std::make_unique<PgPacsSource>(conn));
}

}  // namespace eden::source
