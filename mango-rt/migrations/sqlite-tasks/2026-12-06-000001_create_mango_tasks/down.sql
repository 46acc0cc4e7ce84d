DROP TABLE mango_tasks;
