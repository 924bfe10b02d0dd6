-- First start of the compose stack's PostgreSQL: the warehouse database and the pipeline's own role.
CREATE ROLE smarketing LOGIN PASSWORD 'smarketing';
CREATE DATABASE smarketing OWNER smarketing;
