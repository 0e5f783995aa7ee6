//! A deliberately bare WebSocket client: it sends exactly the bytes a test asks for, so
//! tests can speak broken, hostile or slow WebSocket the way no real client library would.

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::within;

pub const TEXT: u8 = 0x1;
pub const BINARY: u8 = 0x2;
pub const CLOSE: u8 = 0x8;
pub const PING: u8 = 0x9;
const PONG: u8 = 0xA;

pub struct RawWs {
    pub stream: TcpStream,
}

impl RawWs {
    /// Connects and completes the opening handshake.
    pub async fn connect(addr: SocketAddr) -> Self {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        let handshake = format!(
            "GET / HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        );
        stream.write_all(handshake.as_bytes()).await.unwrap();
        // Read the response headers up to the blank line, byte by byte, so no frame bytes
        // that follow are swallowed.
        let mut head = Vec::new();
        while !head.ends_with(b"\r\n\r\n") {
            let byte = within("the handshake", stream.read_u8()).await.unwrap();
            head.push(byte);
        }
        assert!(
            head.starts_with(b"HTTP/1.1 101"),
            "{}",
            String::from_utf8_lossy(&head)
        );
        Self { stream }
    }

    /// Sends one masked frame, as a client must.
    pub async fn send_frame(&mut self, opcode: u8, payload: &[u8]) {
        let frame = masked_frame(opcode, payload);
        self.stream.write_all(&frame).await.unwrap();
    }

    pub async fn send_text(&mut self, text: &str) {
        self.send_frame(TEXT, text.as_bytes()).await;
    }

    /// The next data frame from the server, answering pings on the way.
    pub async fn recv(&mut self) -> (u8, Vec<u8>) {
        loop {
            let (opcode, payload) = within("a frame", read_frame(&mut self.stream))
                .await
                .expect("connection closed");
            match opcode {
                PING => self.send_frame(PONG, &payload).await,
                PONG => {}
                _ => return (opcode, payload),
            }
        }
    }

    /// The next frame from the server, pings included (each answered).
    pub async fn recv_any(&mut self) -> (u8, Vec<u8>) {
        let (opcode, payload) = within("a frame", read_frame(&mut self.stream))
            .await
            .expect("connection closed");
        if opcode == PING {
            self.send_frame(PONG, &payload).await;
        }
        (opcode, payload)
    }

    /// The next text frame, parsed as JSON.
    pub async fn recv_json(&mut self) -> serde_json::Value {
        let (opcode, payload) = self.recv().await;
        assert_eq!(opcode, TEXT, "expected text, got opcode {opcode}");
        serde_json::from_slice(&payload).unwrap()
    }

    /// Sends a JSON-RPC message and returns the next message from the server.
    pub async fn call(&mut self, json: &str) -> serde_json::Value {
        self.send_text(json).await;
        self.recv_json().await
    }

    /// Joins the room on this connection and returns the session.
    pub async fn join(&mut self, name: &str) -> String {
        let reply = self
            .call(&format!(
                r#"{{"jsonrpc":"2.0","id":1,"method":"chat_join","params":["{name}"]}}"#
            ))
            .await;
        reply["result"]["session"].as_str().unwrap().to_owned()
    }

    /// Subscribes this connection to the session's events; returns the answer.
    pub async fn subscribe(&mut self, session: &str) -> serde_json::Value {
        self.call(&format!(
            r#"{{"jsonrpc":"2.0","id":3,"method":"chat_subscribe","params":["{session}"]}}"#
        ))
        .await
    }

    /// Reads until the server closes the connection (close frame or EOF).
    pub async fn closed(&mut self) {
        within("the server to close the connection", async {
            while let Some((opcode, _)) = read_frame(&mut self.stream).await {
                if opcode == CLOSE {
                    return;
                }
            }
        })
        .await;
    }
}

/// A client-to-server frame with the FIN bit set and any payload length.
pub fn masked_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mask = [0x37, 0xfa, 0x21, 0x3d];
    let mut frame = vec![0x80 | opcode];
    frame.extend(length_header(payload.len() as u64));
    frame.extend_from_slice(&mask);
    frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    frame
}

/// The masked-payload length field for `len` bytes.
pub fn length_header(len: u64) -> Vec<u8> {
    match len {
        0..=125 => vec![0x80 | len as u8],
        126..=0xFFFF => {
            let mut header = vec![0x80 | 126];
            header.extend((len as u16).to_be_bytes());
            header
        }
        _ => {
            let mut header = vec![0x80 | 127];
            header.extend(len.to_be_bytes());
            header
        }
    }
}

/// Reads one server frame (unmasked); `None` at end of stream.
async fn read_frame(stream: &mut TcpStream) -> Option<(u8, Vec<u8>)> {
    let mut head = [0u8; 2];
    stream.read_exact(&mut head).await.ok()?;
    let opcode = head[0] & 0x0F;
    let len = match head[1] & 0x7F {
        126 => u64::from(stream.read_u16().await.ok()?),
        127 => stream.read_u64().await.ok()?,
        n => u64::from(n),
    };
    let mut payload = vec![0u8; len as usize];
    stream.read_exact(&mut payload).await.ok()?;
    Some((opcode, payload))
}
