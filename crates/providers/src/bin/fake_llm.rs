//! `quarry-fake-llm [ADDR] [--fault hang|hang-mid|reset|429|500|garbage|truncated]`: a local
//! fake LLM vendor speaking every wire format quarry implements, for trying quarry without
//! a real provider (`OPENAI_BASE_URL=http://ADDR/v1 OPENAI_API_KEY=x quarry serve`).
#![allow(clippy::print_stdout)]

use quarry_providers::testing::{FakeVendor, Fault};

#[tokio::main]
async fn main() {
    let mut addr = "127.0.0.1:0".to_owned();
    let mut fault = Fault::None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if a == "--fault" {
            fault = match args.next().as_deref() {
                Some("hang") => Fault::HangBeforeHeaders,
                Some("hang-mid") => Fault::HangMidStream,
                Some("reset") => Fault::ResetMidStream,
                Some("429") => Fault::RateLimited(1),
                Some("500") => Fault::ServerError,
                Some("garbage") => Fault::GarbageChunk,
                Some("truncated") => Fault::TruncatedJson,
                _ => Fault::None,
            };
        } else {
            addr = a;
        }
    }
    let fake = FakeVendor::start_on(&addr).await;
    fake.set_fault(fault);
    println!("{}", fake.url());
    let _ = tokio::signal::ctrl_c().await;
}
