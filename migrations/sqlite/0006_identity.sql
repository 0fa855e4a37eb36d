-- Identity and access (issue 10): staff accounts, refresh tokens, integrator API keys and the
-- contact access log. Instants are milliseconds since the Unix epoch (BIGINT) so that one SQL
-- text serves SQLite and PostgreSQL; secrets are stored only as hashes.
CREATE TABLE accounts (
    id              TEXT PRIMARY KEY,
    login           TEXT NOT NULL UNIQUE,
    display_name    TEXT NOT NULL,
    role            TEXT NOT NULL,
    scope           TEXT NOT NULL,          -- JSON, see hotline_identity::Scope
    enabled         BOOLEAN NOT NULL,
    password_hash   TEXT NOT NULL,          -- argon2id PHC string
    failed_logins   BIGINT NOT NULL DEFAULT 0,
    locked_until    BIGINT,
    token_version   BIGINT NOT NULL DEFAULT 0, -- bumped to revoke every access token at once
    created_at      BIGINT NOT NULL
);

CREATE TABLE refresh_tokens (
    token_hash      TEXT PRIMARY KEY,       -- SHA-256 of the opaque token, hex
    account_id      TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    issued_at       BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL,
    revoked_at      BIGINT
);
CREATE INDEX refresh_tokens_account ON refresh_tokens (account_id);

CREATE TABLE api_keys (
    id              TEXT PRIMARY KEY,
    account_id      TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    key_hash        TEXT NOT NULL UNIQUE,   -- SHA-256 of the key, hex
    channels        TEXT NOT NULL,          -- JSON array of channel codes
    rpcs            TEXT NOT NULL,          -- JSON array of RPC names
    per_minute      BIGINT NOT NULL,
    created_at      BIGINT NOT NULL,
    revoked_at      BIGINT
);
CREATE INDEX api_keys_account ON api_keys (account_id);

CREATE TABLE contact_access_log (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id      TEXT NOT NULL,          -- no foreign key: the log outlives a deleted account
    ticket_id       TEXT NOT NULL,
    at              BIGINT NOT NULL
);
CREATE INDEX contact_access_log_ticket ON contact_access_log (ticket_id, at);
CREATE INDEX contact_access_log_account ON contact_access_log (account_id, at);
