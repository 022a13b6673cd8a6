#!/usr/bin/env bash
# The ledger's database roles, for the postgres image: docker-compose.yml
# mounts this folder as /docker-entrypoint-initdb.d, so it runs once, as the
# superuser, when the container initialises an empty data volume. (Running it
# again is harmless: it only (re)sets attributes and passwords.)
#
#   ledger_owner  owns database `ledger` and every object in it; migrations run as it
#                 (MIGRATION_DATABASE_URL of the migrate service)
#   ledger_app    the API's and the worker's login (DATABASE_URL); it may append to the log
#                 but never change it: the migrations grant exactly what it needs
#
# Neither is a superuser or may create databases or roles. The passwords come
# from the container's environment (compose takes them from .env), read by psql
# itself with \getenv so they never appear on a command line.
# server/dev/ledger-roles.ts does the same for `npm start` and the tests.
set -euo pipefail

: "${LEDGER_OWNER_PASSWORD:?LEDGER_OWNER_PASSWORD must be set (see .env.example)}"
: "${LEDGER_APP_PASSWORD:?LEDGER_APP_PASSWORD must be set (see .env.example)}"

psql -v ON_ERROR_STOP=1 --no-psqlrc --quiet --username "${POSTGRES_USER:-postgres}" --dbname postgres <<'SQL'
\getenv owner_password LEDGER_OWNER_PASSWORD
\getenv app_password LEDGER_APP_PASSWORD

select not exists (select from pg_roles where rolname = 'ledger_owner') as create_owner,
       not exists (select from pg_roles where rolname = 'ledger_app') as create_app,
       not exists (select from pg_database where datname = 'ledger') as create_database
\gset

\if :create_owner
  create role ledger_owner;
\endif
alter role ledger_owner login nosuperuser nocreatedb nocreaterole noreplication nobypassrls password :'owner_password';

\if :create_app
  create role ledger_app;
\endif
alter role ledger_app login nosuperuser nocreatedb nocreaterole noreplication nobypassrls password :'app_password';

\if :create_database
  create database ledger owner ledger_owner;
\endif
alter database ledger owner to ledger_owner;
SQL

echo "10-ledger-roles.sh: roles ledger_owner and ledger_app ready; database ledger owned by ledger_owner"
