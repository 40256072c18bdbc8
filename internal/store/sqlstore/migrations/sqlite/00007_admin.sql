-- Admin API, SQLite flavour. Keep it logically identical to
-- ../postgres/00007_admin.sql.
--
-- admin_roles holds who may administer Sesame. Principals are users
-- (by user id) and applications (by client id) of the system tenant;
-- tenant_id '' makes a system administrator, any other value a tenant
-- administrator of that tenant. The indexes below serve the admin API's
-- listings and revocations; each is scoped by tenant first, as every
-- query is.

-- +goose Up
CREATE TABLE admin_roles (
    principal_type TEXT    NOT NULL, -- 'user' or 'application'
    principal_id   TEXT    NOT NULL,
    tenant_id      TEXT    NOT NULL, -- '' for a system administrator
    created_at     INTEGER NOT NULL,
    PRIMARY KEY (principal_type, principal_id, tenant_id)
) STRICT;
CREATE INDEX admin_roles_tenant_id ON admin_roles (tenant_id);

-- Sessions listed newest first: of a tenant, of a user, of an application.
CREATE INDEX sessions_tenant_created ON sessions (tenant_id, created_at);
CREATE INDEX sessions_user_created ON sessions (tenant_id, user_id, created_at);
CREATE INDEX sessions_client_created ON sessions (tenant_id, client_id, created_at);
-- Revoking a session or all of a user's sessions finds the OAuth records
-- issued in them.
CREATE INDEX access_tokens_user_session ON access_tokens (tenant_id, user_id, session_id);
CREATE INDEX refresh_tokens_user_session ON refresh_tokens (tenant_id, user_id, session_id);
CREATE INDEX auth_codes_user ON auth_codes (tenant_id, user_id);

-- +goose Down
DROP INDEX auth_codes_user;
DROP INDEX refresh_tokens_user_session;
DROP INDEX access_tokens_user_session;
DROP INDEX sessions_client_created;
DROP INDEX sessions_user_created;
DROP INDEX sessions_tenant_created;
DROP TABLE admin_roles;
