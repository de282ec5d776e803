-- The default selection: every instance of every study that is not deleted, with the study's
-- report text aggregated (fields in creation order, separated by a blank line).
-- This is the seed's "chest DICOM files and reports" query without the body-part filter:
-- `eden run --body-part '%CHEST%'` selects chest studies as the seed did.
--
-- Row contract (docs/pacs-source.md): a query given with --query must return these columns.
--   study_id, series_number, instance_id, instance_number, file_path, file_url,
--   report_value, field_created_at, modality, body_part
-- and optionally patient_id (the PACS's patient key: dataset splits keep a patient's images
-- together by it; without it eden uses the DICOM header's Patient ID).
-- eden wraps it (sampling, filters, keyset pagination); it must not end with ';'.
SELECT st.id                                               AS study_id,
       se.series_number                                    AS series_number,
       i.id                                                AS instance_id,
       i.instance_number                                   AS instance_number,
       i.file_path                                         AS file_path,
       i.file_url                                          AS file_url,
       r.report_value                                      AS report_value,
       r.field_created_at                                  AS field_created_at,
       coalesce(se.modality, st.modality)                  AS modality,
       coalesce(se.body_part_examined, st.body_part)       AS body_part,
       -- Read through to_jsonb so that a schema without the (optional) column still works.
       to_jsonb(st) ->> 'patient_id'                       AS patient_id
FROM pacs_studies st
JOIN pacs_series se    ON se.study_id = st.id AND NOT se.deleted
JOIN pacs_instances i  ON i.series_id = se.id AND NOT i.deleted
LEFT JOIN LATERAL (
  SELECT string_agg(f.value, E'\n\n' ORDER BY f.created_at, f.id) AS report_value,
         max(f.created_at)                                       AS field_created_at
  FROM pacs_report_fields f
  WHERE f.study_id = st.id AND NOT f.deleted AND f.value IS NOT NULL
) r ON true
WHERE NOT st.deleted
