//! The Jupyter messaging protocol (v5.3) on the wire: a message is the frames
//! `[identities…, "<IDS|MSG>", hmac, header, parent_header, metadata, content, buffers…]`,
//! signed with HMAC-SHA256 over the four JSON parts.

use bytes::Bytes;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use zeromq::ZmqMessage;

use crate::KernelError;

const DELIMITER: &[u8] = b"<IDS|MSG>";
const PROTOCOL_VERSION: &str = "5.3";

/// One Jupyter message, decoded.
#[derive(Clone, Debug, PartialEq)]
pub struct Message {
    /// `msg_id`, `msg_type`, `session`, `username`, `date`, `version`.
    pub header: Value,
    /// The header of the request this answers (`{}` when none).
    pub parent_header: Value,
    /// Free-form metadata.
    pub metadata: Value,
    /// The payload.
    pub content: Value,
}

impl Message {
    /// A new request of `msg_type` in client session `session`.
    pub fn request(session: &str, msg_type: &str, content: Value) -> Self {
        Self {
            header: json!({
                "msg_id": new_id(),
                "msg_type": msg_type,
                "session": session,
                "username": "quarry",
                "date": chrono::Utc::now().to_rfc3339(),
                "version": PROTOCOL_VERSION,
            }),
            parent_header: json!({}),
            metadata: json!({}),
            content,
        }
    }

    /// Its `msg_type`.
    pub fn msg_type(&self) -> &str {
        self.header["msg_type"].as_str().unwrap_or_default()
    }

    /// Its `msg_id`.
    pub fn id(&self) -> &str {
        self.header["msg_id"].as_str().unwrap_or_default()
    }

    /// The `msg_id` of the request it answers.
    pub fn parent_id(&self) -> &str {
        self.parent_header["msg_id"].as_str().unwrap_or_default()
    }
}

/// Signs and verifies messages with the connection's key.
#[derive(Clone)]
pub struct Codec {
    key: Vec<u8>,
}

impl std::fmt::Debug for Codec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Codec { key: <redacted> }")
    }
}

impl Codec {
    /// A codec signing with `key` (the connection file's `key`).
    pub fn new(key: impl Into<Vec<u8>>) -> Self {
        Self { key: key.into() }
    }

    fn mac(&self) -> Result<Hmac<Sha256>, KernelError> {
        Hmac::<Sha256>::new_from_slice(&self.key)
            .map_err(|e| KernelError::Protocol(format!("bad signing key: {e}")))
    }

    /// The frames of `msg`, signed.
    pub fn encode(&self, msg: &Message) -> Result<ZmqMessage, KernelError> {
        let parts = [&msg.header, &msg.parent_header, &msg.metadata, &msg.content]
            .map(|v| Bytes::from(serde_json::to_vec(v).unwrap_or_default()));
        let mut mac = self.mac()?;
        for p in &parts {
            mac.update(p);
        }
        let signature = hex::encode(mac.finalize().into_bytes());
        let mut frames = vec![Bytes::from_static(DELIMITER), Bytes::from(signature)];
        frames.extend(parts);
        ZmqMessage::try_from(frames).map_err(|e| KernelError::Protocol(e.to_string()))
    }

    /// The message in `frames`, after checking its signature.
    pub fn decode(&self, frames: ZmqMessage) -> Result<Message, KernelError> {
        let frames = frames.into_vec();
        let start = frames
            .iter()
            .position(|f| f.as_ref() == DELIMITER)
            .ok_or_else(|| KernelError::Protocol("message without delimiter".into()))?;
        let rest = &frames[start + 1..];
        if rest.len() < 5 {
            return Err(KernelError::Protocol("message with missing parts".into()));
        }
        let mut mac = self.mac()?;
        for p in &rest[1..5] {
            mac.update(p);
        }
        let expected = hex::decode(&rest[0])
            .map_err(|_| KernelError::Protocol("signature is not hex".into()))?;
        mac.verify_slice(&expected)
            .map_err(|_| KernelError::Protocol("bad message signature".into()))?;
        let parse = |b: &Bytes| -> Result<Value, KernelError> {
            serde_json::from_slice(b).map_err(|e| KernelError::Protocol(e.to_string()))
        };
        Ok(Message {
            header: parse(&rest[1])?,
            parent_header: parse(&rest[2])?,
            metadata: parse(&rest[3])?,
            content: parse(&rest[4])?,
        })
    }
}

/// A random 32-hex-digit id (message ids, session ids, keys).
pub fn new_id() -> String {
    hex::encode(rand::random::<[u8; 16]>())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn round_trips_and_rejects_tampering() {
        let codec = Codec::new("secret");
        let msg = Message::request("s1", "execute_request", json!({"code": "1+1"}));
        let frames = codec.encode(&msg).unwrap();
        assert_eq!(codec.decode(frames.clone()).unwrap(), msg);
        // Another key does not verify.
        assert!(Codec::new("other").decode(frames.clone()).is_err());
        // A changed content does not verify.
        let mut parts = frames.into_vec();
        parts[5] = Bytes::from_static(b"{\"code\":\"import os\"}");
        let tampered = ZmqMessage::try_from(parts).unwrap();
        assert!(codec.decode(tampered).is_err());
    }

    #[test]
    fn signature_matches_the_reference_algorithm() {
        // HMAC-SHA256 of the concatenated parts, as jupyter_client's Session.sign does.
        let codec = Codec::new("k");
        let msg = Message {
            header: json!({"a": 1}),
            parent_header: json!({}),
            metadata: json!({}),
            content: json!({}),
        };
        let frames = codec.encode(&msg).unwrap().into_vec();
        let mut mac = Hmac::<Sha256>::new_from_slice(b"k").unwrap();
        mac.update(b"{\"a\":1}{}{}{}");
        assert_eq!(
            frames[1].as_ref(),
            hex::encode(mac.finalize().into_bytes()).as_bytes()
        );
    }
}
