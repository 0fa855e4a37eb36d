//! Counters of the identity room, exported with the router's others.

/// `hotline_identity_logins_total{outcome}`: `ok` or the error label (`bad_password`, `locked`..).
pub fn login(outcome: &'static str) {
    metrics::counter!("hotline_identity_logins_total", "outcome" => outcome).increment(1);
}

/// `hotline_identity_authentications_total{via, outcome}`: each credential checked.
pub fn authentication(via: &'static str, outcome: &'static str) {
    metrics::counter!("hotline_identity_authentications_total", "via" => via, "outcome" => outcome)
        .increment(1);
}

/// `hotline_identity_contact_reads_total`: unmasked contact reads written to the access log.
pub fn contact_read() {
    metrics::counter!("hotline_identity_contact_reads_total").increment(1);
}
