-- Signed SDK calls (postgres flavour; keep it logically identical to the other
-- dialect's 00004_signed.sql): one RSA key pair per application, and the
-- nonces of signed calls, remembered until their timestamp window closes.

-- +goose Up
CREATE TABLE app_keys (
    tenant_id      TEXT    NOT NULL,
    client_id      TEXT    NOT NULL,
    private_key    BYTEA      NOT NULL,  -- sealed PKCS#8
    public_key_pem TEXT    NOT NULL,
    created_at     BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, client_id)
);

CREATE TABLE signature_nonces (
    tenant_id  TEXT    NOT NULL,
    client_id  TEXT    NOT NULL,
    nonce_hash BYTEA      NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, client_id, nonce_hash)
);
CREATE INDEX signature_nonces_expires ON signature_nonces (expires_at);

-- +goose Down
DROP TABLE signature_nonces;
DROP TABLE app_keys;
