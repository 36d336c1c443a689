//! The query language against real databases: every definition of the golden corpus run on
//! PostgreSQL (`TEST_DATABASE_URL`), MariaDB/MySQL (`TEST_MYSQL_URL`) and SQLite through the
//! real adapters, and random definitions that must plan and run, or be refused.

mod compare;
mod corpus;
mod fixture;
mod properties;
