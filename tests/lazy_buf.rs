//! The vendored jsonrpsee-server's `LazyBuf` (WebSocket buffers held only while they hold
//! bytes), built from its own file and tested here: cargo does not run the vendored crate's
//! unit tests, since it is no workspace member. The file names `futures_util`, which
//! chatroom reaches through `futures`.

extern crate futures as futures_util;

// The vendored file keeps its upstream formatting (`.ci/check-vendor` compares it byte for
// byte), so rustfmt must leave it alone.
#[rustfmt::skip]
#[path = "../vendor/jsonrpsee-server/src/transport/lazy_buf.rs"]
mod lazy_buf;
