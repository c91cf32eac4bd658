//! The groups a sign-in needs, without a membership read each time.
//!
//! A policy target names groups; evaluating it needs to know which of those groups the
//! signing-in user is in. Reading the user's memberships at every sign-in costs a second
//! statement and a row per membership, so each node keeps, per user, the named groups it
//! found, stamped with the policy version and the user's `memberships_version` (a count
//! the store moves in the same transaction as every membership change, and which the
//! sign-in reads anyway, with the passkey and its owner). An entry is used only while both
//! stamps match what this sign-in read: a membership change on any node, or a new policy,
//! makes the next sign-in read again. Nothing is ever stale; the cache only saves reads.

use super::policy::Snapshot;
use keyfort_store::{Store, StoreError};
use std::sync::Arc;

/// Users whose named groups a node keeps (least recently useful evicted first): a few
/// hundred bytes each, so a full cache is a few megabytes.
pub const CAPACITY: usize = 20_000;

#[derive(Clone)]
struct Entry {
    policy_version: i64,
    memberships_version: i64,
    groups: Arc<[String]>,
}

pub struct Memberships {
    cache: quick_cache::sync::Cache<String, Entry>,
    none: Arc<[String]>,
}

impl Memberships {
    /// No groups: what a user the policy names no group of (or no user) is in.
    pub fn none(&self) -> Arc<[String]> {
        self.none.clone()
    }

    pub fn new(capacity: usize) -> Memberships {
        Memberships {
            cache: quick_cache::sync::Cache::new(capacity),
            none: Arc::from(Vec::new()),
        }
    }

    /// The groups among those `snapshot` names that the user is a member of, as of
    /// `memberships_version` (read with the user in the same statement as the passkey).
    pub async fn named_groups(
        &self,
        store: &Store,
        snapshot: &Snapshot,
        user_id: &str,
        memberships_version: i64,
    ) -> Result<Arc<[String]>, StoreError> {
        if !snapshot.names_groups {
            return Ok(self.none());
        }
        if let Some(e) = self.cache.get(user_id)
            && e.policy_version == snapshot.version
            && e.memberships_version == memberships_version
        {
            return Ok(e.groups);
        }
        // Read after the version: a change committed in between makes the entry newer
        // than its stamp, never older, and the next sign-in reads again.
        let groups: Arc<[String]> = store
            .group_ids_of_user(user_id)
            .await?
            .into_iter()
            .filter(|g| snapshot.named_groups.contains(g))
            .collect();
        self.cache.insert(
            user_id.to_string(),
            Entry {
                policy_version: snapshot.version,
                memberships_version,
                groups: groups.clone(),
            },
        );
        Ok(groups)
    }
}

impl Default for Memberships {
    fn default() -> Self {
        Memberships::new(CAPACITY)
    }
}
