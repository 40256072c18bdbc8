-- Signed SDK calls (sqlite flavour; keep it logically identical to the other
-- dialect's 00004_signed.sql): one RSA key pair per application, and the
-- nonces of signed calls, remembered until their timestamp window closes.

-- +goose Up
CREATE TABLE app_keys (
    tenant_id      TEXT    NOT NULL,
    client_id      TEXT    NOT NULL,
    private_key    BLOB      NOT NULL,  -- sealed PKCS#8
    public_key_pem TEXT    NOT NULL,
    created_at     INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, client_id)
);

CREATE TABLE signature_nonces (
    tenant_id  TEXT    NOT NULL,
    client_id  TEXT    NOT NULL,
    nonce_hash BLOB      NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, client_id, nonce_hash)
);
CREATE INDEX signature_nonces_expires ON signature_nonces (expires_at);

-- +goose Down
DROP TABLE signature_nonces;
DROP TABLE app_keys;
