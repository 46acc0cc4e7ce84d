DROP TABLE mango_tokens;
DROP TABLE mango_user_groups;
DROP TABLE mango_groups;
DROP TABLE mango_users;
