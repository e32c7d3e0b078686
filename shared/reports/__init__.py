"""CSV report files (YouTube CMS style) dropped into the reports bucket: validated, loaded, summarised, moved.

validation.py reads and checks the rows (no network), loader.py runs BigQuery load jobs at most once per job
id, summary.py is the processing summary, ingest.py puts them together for one report; the report-ingest
function's handler is shared/handlers/reports.py.
"""
