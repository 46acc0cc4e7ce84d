CREATE TABLE {{app_name}}_items (
    {{id_column}},
    name TEXT NOT NULL
);
