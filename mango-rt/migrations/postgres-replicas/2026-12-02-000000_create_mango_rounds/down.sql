DROP TABLE mango_rounds;
