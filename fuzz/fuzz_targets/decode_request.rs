//! Arbitrary bytes as a JSON-RPC request to the chat API, decoded and dispatched exactly as
//! the server does (minus the socket): every input gets an answer or a parse error, never a
//! panic.
#![no_main]

use std::sync::OnceLock;

use chatroom::room::Room;
use chatroom::rpc::server::{ChatService, ServerConfig, rpc_module};
use jsonrpsee::RpcModule;
use libfuzzer_sys::fuzz_target;

fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap()
    })
}

fn module() -> &'static RpcModule<ChatService> {
    // One room across runs, so joins made by earlier inputs are there to be used.
    static MODULE: OnceLock<RpcModule<ChatService>> = OnceLock::new();
    MODULE.get_or_init(|| rpc_module(Room::default(), &ServerConfig::default()))
}

fuzz_target!(|data: &[u8]| {
    let Ok(request) = std::str::from_utf8(data) else {
        return;
    };
    runtime().block_on(async {
        let _ = module().raw_json_request(request, 16).await;
    });
});
