//! Revocations: each one commits with its audit row, or not at all.

use crate::audit::{AuditEvent, write_with};
use crate::exec::{Arg, Exec};
use crate::group_commit::Body;
use crate::{GrantRecord, Result, Store};
use serde_json::json;

/// Why a grant is revoked: the audit action says which.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RevokeReason {
    /// A used refresh token was presented again (RFC 9700 §4.14.2): the family goes.
    RefreshReuse,
    /// A used authorization code was presented again (RFC 6749 §4.1.2).
    CodeReplay,
    /// The grant's user is disabled.
    UserDisabled,
    /// The client revoked one of its tokens (RFC 7009).
    ClientRequest,
}

impl RevokeReason {
    pub fn action(self) -> &'static str {
        match self {
            RevokeReason::RefreshReuse => "grant.revoked_refresh_reuse",
            RevokeReason::CodeReplay => "grant.revoked_code_replay",
            RevokeReason::UserDisabled => "grant.revoked_user_disabled",
            RevokeReason::ClientRequest => "grant.revoked_by_client",
        }
    }

    fn actor(self, grant: &GrantRecord) -> String {
        match self {
            RevokeReason::ClientRequest => format!("client:{}", grant.client_id),
            _ => "system".to_string(),
        }
    }
}

impl Store {
    /// Revokes a grant (every code, refresh token and access token issued from it stops
    /// working) and audits it, in one commit. `false` when it was revoked before: nothing
    /// is written then.
    pub async fn revoke_grant(
        &self,
        grant: &GrantRecord,
        reason: RevokeReason,
        now: i64,
    ) -> Result<bool> {
        self.transact(RevokeGrant {
            grant: grant.clone(),
            reason,
            now,
        })
        .await
    }

    /// Revokes one access token at its client's request (RFC 7009), audited in the same
    /// commit. `false` when it was revoked before.
    pub async fn revoke_access_token(&self, jti: &str, client_id: &str, now: i64) -> Result<bool> {
        self.transact(RevokeAccessToken {
            jti: jti.to_string(),
            client_id: client_id.to_string(),
            now,
        })
        .await
    }

    /// Sign-out: the browser session ends and, with `revoke_grants`, every grant issued in
    /// it is revoked; one commit, audited. Returns how many grants were revoked.
    pub async fn end_session(
        &self,
        session_id: &str,
        user_id: &str,
        revoke_grants: bool,
        now: i64,
    ) -> Result<u64> {
        self.transact(EndSession {
            session_id: session_id.to_string(),
            user_id: user_id.to_string(),
            revoke_grants,
            now,
        })
        .await
    }
}

struct RevokeGrant {
    grant: GrantRecord,
    reason: RevokeReason,
    now: i64,
}

impl Body for RevokeGrant {
    type Out = bool;

    async fn run<E: Exec>(&self, e: &mut E) -> Result<bool> {
        let n = e
            .exec(
                "UPDATE grants SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL",
                &[Arg::Int(self.now), Arg::Text(&self.grant.id)],
            )
            .await?;
        if n != 1 {
            return Ok(false);
        }
        let g = &self.grant;
        let ev = AuditEvent::new(self.now, &self.reason.actor(g), self.reason.action(), &g.id)
            .after(json!({ "clientId": g.client_id, "userId": g.user_id }));
        write_with(e, &ev).await?;
        Ok(true)
    }
}

struct RevokeAccessToken {
    jti: String,
    client_id: String,
    now: i64,
}

impl Body for RevokeAccessToken {
    type Out = bool;

    async fn run<E: Exec>(&self, e: &mut E) -> Result<bool> {
        let n = e
            .exec(
                "UPDATE access_tokens SET revoked_at = $1 WHERE jti = $2 AND revoked_at IS NULL",
                &[Arg::Int(self.now), Arg::Text(&self.jti)],
            )
            .await?;
        if n != 1 {
            return Ok(false);
        }
        let actor = format!("client:{}", self.client_id);
        let ev = AuditEvent::new(
            self.now,
            &actor,
            "access_token.revoked_by_client",
            &self.jti,
        );
        write_with(e, &ev).await?;
        Ok(true)
    }
}

struct EndSession {
    session_id: String,
    user_id: String,
    revoke_grants: bool,
    now: i64,
}

impl Body for EndSession {
    type Out = u64;

    async fn run<E: Exec>(&self, e: &mut E) -> Result<u64> {
        e.exec(
            "DELETE FROM sessions WHERE id = $1",
            &[Arg::Text(&self.session_id)],
        )
        .await?;
        let revoked = if self.revoke_grants {
            e.exec(
                "UPDATE grants SET revoked_at = $1 WHERE session_id = $2 AND revoked_at IS NULL",
                &[Arg::Int(self.now), Arg::Text(&self.session_id)],
            )
            .await?
        } else {
            0
        };
        let ev = AuditEvent::new(self.now, &self.user_id, "session.ended", &self.session_id)
            .after(json!({ "grantsRevoked": revoked }));
        write_with(e, &ev).await?;
        Ok(revoked)
    }
}
