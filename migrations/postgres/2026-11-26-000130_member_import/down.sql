DROP TABLE mem_import_jobs;
