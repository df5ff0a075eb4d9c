-- docker-compose.split.yml: each core service but users on a database of its own. Runs once, when
-- the PostgreSQL container starts on an empty data volume (docker-entrypoint-initdb.d).
CREATE DATABASE gatehouse_auth OWNER gatehouse;
CREATE DATABASE gatehouse_permissions OWNER gatehouse;
CREATE DATABASE gatehouse_notifications OWNER gatehouse;
