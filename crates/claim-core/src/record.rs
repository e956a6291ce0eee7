//! The record written inside every claim, done and failed file.

use serde::{Deserialize, Serialize};

/// What a claim file holds (one JSON object). Done and failed files keep the record of the claim
/// that finished, with `reason` (failed) and, for blocks, the per-item failures.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ClaimRecord {
    /// The item key (for a block: `list[start..end]`).
    pub key: String,
    /// Unique token of this claim.
    pub token: String,
    /// Holder host.
    pub host: String,
    /// Holder kernel boot id.
    #[serde(default)]
    pub boot_id: String,
    /// Holder pid.
    pub pid: u32,
    /// Holder process start time (ticks since boot).
    #[serde(default)]
    pub pid_start: u64,
    /// Holder pid namespace (`pid:[…]`; empty in records of older versions, whose pids are then
    /// never checked, only their heartbeats).
    #[serde(default)]
    pub pid_ns: String,
    /// Worker id within the holder process.
    #[serde(default)]
    pub worker: u32,
    /// Holder's wall clock at claim time, ms since the epoch (informational only).
    pub started_unix_ms: u64,
    /// Lease in milliseconds: the holder renews the claim at least every quarter lease.
    pub lease_ms: u64,
    /// Heartbeat counter, incremented at every renewal.
    #[serde(default)]
    pub beat: u64,
    /// Host and pid of the holder this claim was taken over from, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub taken_from: Option<String>,
    /// Failure reason (failed records only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Milliseconds the claim was held (done and failed records only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held_ms: Option<u64>,
    /// Block claims only: the item range and per-item failures.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub block: Option<BlockRecord>,
}

/// The part of a record that belongs to a block claim.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct BlockRecord {
    /// List name.
    pub list: String,
    /// First item index.
    pub start: u64,
    /// One past the last item index.
    pub end: u64,
    /// Items that failed: index and reason.
    #[serde(default)]
    pub failed: Vec<(u64, String)>,
}

impl ClaimRecord {
    /// Serialise as one line of JSON.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = serde_json::to_vec(self).expect("a claim record always serialises");
        bytes.push(b'\n');
        bytes
    }

    /// Parse a record; `None` for empty, truncated or foreign content.
    pub fn parse(bytes: &[u8]) -> Option<Self> {
        serde_json::from_slice(bytes).ok()
    }

    /// The name this claim is published under in `done/` or `failed/`, given its claim file
    /// name: blocks carry their end, so one directory read tells the finished ranges.
    pub fn published_name(&self, claim_name: &str) -> String {
        match &self.block {
            Some(block) => format!("{claim_name}+{}", block.end),
            None => claim_name.to_string(),
        }
    }

    /// `host:pid` of the holder, for messages.
    pub fn holder(&self) -> String {
        format!("{}:{}", self.host, self.pid)
    }
}
