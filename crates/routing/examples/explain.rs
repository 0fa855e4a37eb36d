//! Prints the routing decision for each argument: `cargo run -p hotline-routing --example explain -- "文本" ...`.
//! An argument `地址|文本` gives an address and a text.
use hotline_routing::{RouteRequest, RoutingEngine};

fn main() {
    let engine = RoutingEngine::suzhou();
    for arg in std::env::args().skip(1) {
        let request = match arg.split_once('|') {
            Some((address, text)) => RouteRequest {
                address: Some(address.to_owned()),
                ..RouteRequest::text(text)
            },
            None => RouteRequest::text(arg.clone()),
        };
        println!("{arg}\n{:#?}\n", engine.decide(&request));
    }
}
