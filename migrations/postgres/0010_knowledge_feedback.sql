-- Feedback on knowledge articles (issue 21): an operator's "this answer did not fit", and a
-- dissatisfied callback of a ticket answered from the article. It flags the article for its
-- owner's review. `version` is the version the caller was read, so an edit published since
-- starts the count afresh. Instants are milliseconds since the epoch.
CREATE TABLE knowledge_feedback (
    id         TEXT    PRIMARY KEY,          -- UUIDv7, chosen by the server
    article_id TEXT    NOT NULL REFERENCES knowledge_articles (id),
    version    BIGINT  NOT NULL,
    kind       TEXT    NOT NULL,             -- did_not_fit | dissatisfied
    ticket     TEXT,                         -- the ticket it came from, if any
    staff      TEXT,                         -- who marked it, if anyone
    note       TEXT    NOT NULL,
    at         BIGINT  NOT NULL
);
-- One mark per ticket and kind: the router may send the same feedback again after a retry.
-- Feedback without a ticket is never a repeat (NULLs are distinct in a unique index).
CREATE UNIQUE INDEX knowledge_feedback_once ON knowledge_feedback (article_id, ticket, kind);
CREATE INDEX knowledge_feedback_article ON knowledge_feedback (article_id, version);
