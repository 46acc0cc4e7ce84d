DROP TABLE mango_audit;
