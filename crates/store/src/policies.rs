//! Policies as versioned JSON documents (what they mean is `keyfort_core::policy`'s).
//! A change is conditional on the version it was made from (optimistic concurrency: of
//! two changes from one version, one is stored and the other told it is stale) and is
//! audited, before and after, in its own commit.

use crate::audit::{self, AuditEvent};
use crate::exec::{Arg, Cols, Exec, Kind, Record};
use crate::group_commit::Body;
use crate::{Result, Store};

/// A stored policy document.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredPolicy {
    pub version: i64,
    pub document: String,
    pub updated_at: i64,
}

impl Record for StoredPolicy {
    const KINDS: &'static [Kind] = &[Kind::Int, Kind::Text, Kind::Int];

    fn from_cols(c: &mut Cols) -> Result<StoredPolicy> {
        Ok(StoredPolicy {
            version: c.int()?,
            document: c.text()?,
            updated_at: c.int()?,
        })
    }
}

/// What storing a policy came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyWrite {
    /// Stored as this version.
    Stored { version: i64 },
    /// Another change came first: the policy is at `current` (0: none stored).
    Stale { current: i64 },
}

impl Store {
    /// The stored policy `id`, if one was ever stored.
    pub async fn policy(&self, id: &str) -> Result<Option<StoredPolicy>> {
        self.record(
            "SELECT version, document, updated_at FROM policies WHERE id = $1",
            &[Arg::Text(id)],
        )
        .await
    }

    /// The stored version of policy `id` (0: none stored): what a node polls to see a
    /// change made on another.
    pub async fn policy_version(&self, id: &str) -> Result<i64> {
        let v: Option<i64> = self
            .record(
                "SELECT version FROM policies WHERE id = $1",
                &[Arg::Text(id)],
            )
            .await?;
        Ok(v.unwrap_or(0))
    }

    /// Stores `document` as the next version of policy `id`, if the policy is still at
    /// `from_version` (0: none stored yet); `audit` is written in the same commit, with
    /// the version stored added to it.
    pub async fn put_policy(
        &self,
        id: &str,
        from_version: i64,
        document: &str,
        audit: AuditEvent,
        now: i64,
    ) -> Result<PolicyWrite> {
        self.transact(PutPolicy {
            id: id.to_string(),
            from_version,
            document: document.to_string(),
            audit,
            now,
        })
        .await
    }
}

struct PutPolicy {
    id: String,
    from_version: i64,
    document: String,
    audit: AuditEvent,
    now: i64,
}

impl Body for PutPolicy {
    type Out = PolicyWrite;

    async fn run<E: Exec>(&self, e: &mut E) -> Result<PolicyWrite> {
        let Some(next) = self.from_version.checked_add(1) else {
            return Ok(PolicyWrite::Stale {
                current: self.from_version,
            });
        };
        let changed = if self.from_version == 0 {
            e.exec(
                "INSERT INTO policies (id, version, document, updated_at) VALUES ($1, 1, $2, $3) \
                 ON CONFLICT (id) DO NOTHING",
                &[
                    Arg::Text(&self.id),
                    Arg::Text(&self.document),
                    Arg::Int(self.now),
                ],
            )
            .await?
        } else {
            e.exec(
                "UPDATE policies SET version = $1, document = $2, updated_at = $3 \
                 WHERE id = $4 AND version = $5",
                &[
                    Arg::Int(next),
                    Arg::Text(&self.document),
                    Arg::Int(self.now),
                    Arg::Text(&self.id),
                    Arg::Int(self.from_version),
                ],
            )
            .await?
        };
        if changed == 0 {
            let current = crate::exec::fetch_record::<i64, _>(
                e,
                "SELECT version FROM policies WHERE id = $1",
                &[Arg::Text(&self.id)],
            )
            .await?
            .unwrap_or(0);
            return Ok(PolicyWrite::Stale { current });
        }
        let mut ev = self.audit.clone();
        if let Some(serde_json::Value::Object(after)) = ev.after.as_mut() {
            after.insert("version".into(), next.into());
        }
        audit::write_with(e, &ev).await?;
        Ok(PolicyWrite::Stored { version: next })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::test_sqlite as sqlite;

    fn ev() -> AuditEvent {
        AuditEvent::new(1, "admin", "policy.updated", "methods")
            .after(serde_json::json!({ "document": {} }))
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_policy_moves_version_by_version_and_a_stale_change_is_refused() {
        let (store, _dir) = sqlite().await;
        assert_eq!(store.policy_version("methods").await.unwrap(), 0);
        assert_eq!(store.policy("methods").await.unwrap(), None);
        let put = |from, doc: &'static str| {
            let store = store.clone();
            async move {
                store
                    .put_policy("methods", from, doc, ev(), 5)
                    .await
                    .unwrap()
            }
        };
        assert_eq!(
            put(0, "{\"a\":1}").await,
            PolicyWrite::Stored { version: 1 }
        );
        assert_eq!(put(0, "{\"a\":2}").await, PolicyWrite::Stale { current: 1 });
        assert_eq!(
            put(1, "{\"a\":3}").await,
            PolicyWrite::Stored { version: 2 }
        );
        assert_eq!(put(1, "{\"a\":4}").await, PolicyWrite::Stale { current: 2 });
        let stored = store.policy("methods").await.unwrap().unwrap();
        assert_eq!((stored.version, stored.document.as_str()), (2, "{\"a\":3}"));
        // Two changes from the same version at once: exactly one is stored.
        let (a, b) = tokio::join!(put(2, "{\"a\":5}"), put(2, "{\"a\":6}"));
        let stored = [a, b]
            .iter()
            .filter(|w| matches!(w, PolicyWrite::Stored { version: 3 }))
            .count();
        assert_eq!(stored, 1, "{a:?} {b:?}");
        // Every stored change is audited, with its version; a stale one is not.
        let audit = store.audit_log(100).await.unwrap();
        let versions: Vec<i64> = audit
            .iter()
            .filter(|r| r.action == "policy.updated")
            .filter_map(|r| {
                let after: serde_json::Value = serde_json::from_str(r.after.as_deref()?).ok()?;
                after.get("version")?.as_i64()
            })
            .collect();
        assert_eq!(versions.len(), 3, "{versions:?}");
        assert!(versions.contains(&1) && versions.contains(&2) && versions.contains(&3));
    }
}
