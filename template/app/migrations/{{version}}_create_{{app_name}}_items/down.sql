DROP TABLE {{app_name}}_items;
