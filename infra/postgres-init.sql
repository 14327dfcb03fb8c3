-- The integration tests use the database "test" (DATABASE_URL overrides it).
CREATE DATABASE test;
