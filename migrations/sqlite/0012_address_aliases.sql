-- Aliases learned from corrections (issue 16): when staff correct a ticket's territory, the part
-- of its address no division name explained (`spoken`, keyed by its normalised form `alias`) is
-- proposed for the community it was corrected to. Each ticket agrees once (a vote); after
-- enough agreeing corrections a supervisor confirms or rejects the proposal, and a confirmed
-- alias is used by the resolver. The same alias may be proposed for several communities (staff
-- disagree); only one of them can be confirmed. Instants are milliseconds since the epoch.
CREATE TABLE address_alias_proposals (
    alias         TEXT    NOT NULL,
    division_code TEXT    NOT NULL,
    spoken        TEXT    NOT NULL,            -- as first written by a caller
    agreeing      BIGINT  NOT NULL,            -- the votes below, counted
    status        TEXT    NOT NULL,            -- proposed | confirmed | rejected
    first_at      BIGINT  NOT NULL,
    last_at       BIGINT  NOT NULL,
    decided_by    TEXT,
    decided_at    BIGINT,
    PRIMARY KEY (alias, division_code)
);
CREATE INDEX address_alias_proposals_status ON address_alias_proposals (status, agreeing);
-- A ticket corrected twice to the same community agrees once.
CREATE TABLE address_alias_votes (
    alias         TEXT    NOT NULL,
    division_code TEXT    NOT NULL,
    ticket_id     TEXT    NOT NULL,
    staff         TEXT    NOT NULL,
    at            BIGINT  NOT NULL,
    PRIMARY KEY (alias, division_code, ticket_id),
    FOREIGN KEY (alias, division_code) REFERENCES address_alias_proposals (alias, division_code)
);
