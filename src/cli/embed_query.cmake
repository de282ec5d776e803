# Generates default_query.h: the built-in selection query, from queries/dicom_reports.sql.
file(READ "${INPUT}" QUERY)
file(WRITE "${OUTPUT}" "#pragma once\n// Generated from queries/dicom_reports.sql at build time.\nnamespace eden::cli {\ninline constexpr const char* kDefaultQuery = R\"sql(${QUERY})sql\";\n}\n")
