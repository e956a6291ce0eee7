//! The record written inside every claim, done and failed file.

use serde::{Deserialize, Serialize};

/// What a claim file holds (one JSON object). Done and failed files keep the record of the claim
/// that finished, with `reason` (failed) and, for blocks, the per-item failures.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ClaimRecord {
    /// The item key (for a block: `<list>[<n> items from <first key>]`, or `<list>[1 item: <key>]`).
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
    /// Block claims only: the items covered and, once finished, their outcomes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub block: Option<BlockRecord>,
}

/// The part of a record that belongs to a block claim: the items it covers, named by
/// [`ItemId`](crate::key::ItemId) (32 hex digits), so any list holding one of them, and any
/// per-item claim, can tell it is taken or finished.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct BlockRecord {
    /// Name of the list the block was formed from (for messages and status).
    pub list: String,
    /// Live claims only: the items reserved by this block.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub items: Vec<String>,
    /// Finished records only: the items processed and done.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub done: Vec<String>,
    /// Finished records only: the items that failed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failed: Vec<ItemFailure>,
}

/// One failed item of a block.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ItemFailure {
    /// The item's id (32 hex digits).
    pub id: String,
    /// The item's key.
    pub key: String,
    /// Why it failed.
    pub reason: String,
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

    /// `host:pid` of the holder, for messages.
    pub fn holder(&self) -> String {
        format!("{}:{}", self.host, self.pid)
    }
}
