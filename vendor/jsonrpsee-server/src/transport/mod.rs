/// HTTP related server functionality.
pub mod http;
/// WebSocket related server functionality.
pub mod ws;
/// chatroom patch: buffering that holds no memory while a connection is idle.
pub(crate) mod lazy_buf;
