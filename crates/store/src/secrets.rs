use crate::exec::{Arg, Exec, Kind, fetch_map};
use crate::group_commit::Body;
use crate::{Result, Store, StoreError};

impl Store {
    /// Returns the named server secret, creating it from `generate` the first
    /// time. Concurrent first starts agree on one value (`ON CONFLICT DO NOTHING`).
    pub async fn server_secret(
        &self,
        name: &str,
        generate: impl FnOnce() -> String,
        now: i64,
    ) -> Result<String> {
        self.transact(ServerSecret {
            name: name.to_string(),
            generated: generate(),
            now,
        })
        .await
    }
}

struct ServerSecret {
    name: String,
    generated: String,
    now: i64,
}

impl Body for ServerSecret {
    type Out = String;

    async fn run<E: Exec>(&self, e: &mut E) -> Result<String> {
        e.exec(
            "INSERT INTO server_secrets (name, value, created_at) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO NOTHING",
            &[
                Arg::Text(&self.name),
                Arg::Text(&self.generated),
                Arg::Int(self.now),
            ],
        )
        .await?;
        fetch_map(
            e,
            "SELECT value FROM server_secrets WHERE name = $1",
            &[Arg::Text(&self.name)],
            &[Kind::Text],
            crate::exec::Cols::text,
        )
        .await?
        .ok_or(StoreError::Corrupt("a stored secret is missing".into()))
    }
}
