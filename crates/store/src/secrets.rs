use crate::{Result, Store};

impl Store {
    /// Returns the named server secret, creating it from `generate` the first
    /// time. Concurrent first starts agree on one value (`ON CONFLICT DO NOTHING`).
    pub async fn server_secret(
        &self,
        name: &str,
        generate: impl FnOnce() -> String,
        now: i64,
    ) -> Result<String> {
        sqlx::query("INSERT INTO server_secrets (name, value, created_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING")
            .bind(name)
            .bind(generate())
            .bind(now)
            .execute(&self.writer)
            .await?;
        let (v,): (String,) = sqlx::query_as("SELECT value FROM server_secrets WHERE name = $1")
            .bind(name)
            .fetch_one(&self.pool)
            .await?;
        Ok(v)
    }
}
