-- The operators' knowledge base (issue 21): articles, every version of their content, and every
-- change made to them. An article row says where it stands (status, latest and live version);
-- its versions are never rewritten, so who wrote what, and what callers were read on any day,
-- can always be shown. Lists (同义问法, categories, territories) are JSON text arrays; dates are
-- ISO 'YYYY-MM-DD' text (they sort as dates); instants are milliseconds since the epoch.
CREATE TABLE knowledge_articles (
    id             TEXT    PRIMARY KEY,
    external_key   TEXT    UNIQUE,           -- the imported base's key; NULL if made here
    status         TEXT    NOT NULL,         -- draft | in_review | published | withdrawn
    latest_version BIGINT  NOT NULL,         -- the version edits and reviews work on
    live_version   BIGINT,                   -- the version callers are read; NULL: none
    revision       BIGINT  NOT NULL,         -- bumped on every change; the index follows it
    created_at     BIGINT  NOT NULL,
    updated_at     BIGINT  NOT NULL
);
CREATE INDEX knowledge_articles_status ON knowledge_articles (status);

CREATE TABLE knowledge_versions (
    article_id      TEXT    NOT NULL REFERENCES knowledge_articles (id),
    version         BIGINT  NOT NULL,
    title           TEXT    NOT NULL,
    alt_questions   TEXT    NOT NULL,
    answer          TEXT    NOT NULL,
    internal_note   TEXT    NOT NULL,
    categories      TEXT    NOT NULL,
    territories     TEXT    NOT NULL,
    source_name     TEXT    NOT NULL,
    source_number   TEXT    NOT NULL,
    source_link     TEXT    NOT NULL,
    effective_from  TEXT    NOT NULL,
    effective_until TEXT,
    owner           TEXT    NOT NULL,        -- the owning unit (station id)
    review_on       TEXT,
    author          TEXT    NOT NULL,
    created_at      BIGINT  NOT NULL,
    PRIMARY KEY (article_id, version)
);

CREATE TABLE knowledge_history (
    article_id TEXT    NOT NULL REFERENCES knowledge_articles (id),
    seq        BIGINT  NOT NULL,
    action     TEXT    NOT NULL,             -- created | edited | submitted | approved | rejected | withdrawn
    version    BIGINT  NOT NULL,
    actor      TEXT    NOT NULL,
    at         BIGINT  NOT NULL,
    note       TEXT    NOT NULL,
    PRIMARY KEY (article_id, seq)
);
