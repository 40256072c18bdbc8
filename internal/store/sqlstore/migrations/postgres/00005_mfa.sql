-- Second factor (TOTP, RFC 6238), PostgreSQL flavour. Keep it logically
-- identical to ../sqlite/00005_mfa.sql.
--
-- tenants.mfa_policy: off | optional | required (store.TenantPolicy.MFA).
-- state_tokens gains what MFA challenges need: an attempt counter (one
-- challenge admits a bounded number of codes, counted by one conditional
-- UPDATE) and the sealed secret of an enrolment under way.
-- user_totp holds confirmed enrolments: the sealed secret and the last
-- accepted time step, which a code must exceed (no replay, RFC 6238 §5.2).
-- recovery_codes holds keyed hashes of single-use recovery codes.

-- +goose Up
ALTER TABLE tenants ADD COLUMN mfa_policy TEXT NOT NULL DEFAULT 'off';
ALTER TABLE state_tokens ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE state_tokens ADD COLUMN pending_secret BYTEA; -- sealed; NULL unless enrolling

CREATE TABLE user_totp (
    tenant_id  TEXT    NOT NULL,
    user_id    TEXT    NOT NULL,
    secret     BYTEA   NOT NULL, -- sealed (AES-256-GCM under the key-encryption key)
    last_step  BIGINT  NOT NULL,
    created_at BIGINT  NOT NULL,
    PRIMARY KEY (tenant_id, user_id)
);

CREATE TABLE recovery_codes (
    tenant_id  TEXT    NOT NULL,
    user_id    TEXT    NOT NULL,
    code_hash  BYTEA   NOT NULL, -- keyed hash of the normalised code
    created_at BIGINT  NOT NULL,
    used_at    BIGINT  NOT NULL, -- 0 while unused
    PRIMARY KEY (tenant_id, user_id, code_hash)
);

-- +goose Down
DROP TABLE recovery_codes;
DROP TABLE user_totp;
ALTER TABLE state_tokens DROP COLUMN pending_secret;
ALTER TABLE state_tokens DROP COLUMN attempts;
ALTER TABLE tenants DROP COLUMN mfa_policy;
