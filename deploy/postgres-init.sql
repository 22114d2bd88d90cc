-- WPIS: one database per service, all owned by the `wpis` role.
-- Run once by the postgres image on an empty data volume
-- (mounted into /docker-entrypoint-initdb.d by deploy/docker-compose.yml).
-- Development password only: production sets its own roles and secrets.

CREATE ROLE wpis LOGIN PASSWORD 'wpis';

CREATE DATABASE applications OWNER wpis;
CREATE DATABASE identity_gateway OWNER wpis;
CREATE DATABASE permits OWNER wpis;
CREATE DATABASE contracts OWNER wpis;
CREATE DATABASE notifications OWNER wpis;
CREATE DATABASE gateway OWNER wpis;
CREATE DATABASE statistics OWNER wpis;
