DROP TABLE mango_jobs;
