use crate::audit::{self, AuditEvent};
use crate::exec::{Arg, Cols, Exec, Kind, Record, fetch_map, fetch_record};
use crate::group_commit::Body;
use crate::{Result, Store, StoreError, flag};
use serde::Serialize;

/// An OpenID Connect client (relying party). The secret only as a hash.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ClientRecord {
    #[serde(rename = "clientId")]
    pub id: String,
    pub name: String,
    #[serde(skip)]
    pub secret_hash: Option<String>,
    /// No secret: a single-page or native app (PKCE required).
    pub public_client: bool,
    pub redirect_uris: String,
    pub post_logout_redirect_uris: String,
    pub grant_types: String,
    pub auth_method: String,
    pub jwks: Option<String>,
    pub id_token_alg: String,
    /// The user's groups go in ID tokens and UserInfo.
    pub groups_claim: bool,
    pub created_at: i64,
    pub secret_rotated_at: Option<i64>,
}

impl ClientRecord {
    fn list(json: &str) -> Vec<String> {
        serde_json::from_str(json).unwrap_or_default()
    }
    pub fn redirect_uri_list(&self) -> Vec<String> {
        Self::list(&self.redirect_uris)
    }
    pub fn post_logout_uri_list(&self) -> Vec<String> {
        Self::list(&self.post_logout_redirect_uris)
    }
    pub fn grant_type_list(&self) -> Vec<String> {
        Self::list(&self.grant_types)
    }
    pub fn allows_grant(&self, grant: &str) -> bool {
        self.grant_type_list().iter().any(|g| g == grant)
    }
}

macro_rules! client_columns {
    () => {
        "id, name, secret_hash, public_client, redirect_uris, post_logout_redirect_uris, grant_types, auth_method, \
         jwks, id_token_alg, groups_claim, created_at, secret_rotated_at"
    };
}

struct ClientById(String);

impl Body for ClientById {
    type Out = Option<ClientRecord>;

    async fn run<E: Exec>(&self, e: &mut E) -> Result<Option<ClientRecord>> {
        let sql = concat!("SELECT ", client_columns!(), " FROM clients WHERE id = $1");
        fetch_record(e, sql, &[Arg::Text(&self.0)]).await
    }
}

/// A client as [`client_columns`] lists its columns, in that order.
impl Record for ClientRecord {
    const KINDS: &'static [Kind] = {
        use Kind::{Int, OptInt, OptText, Text};
        &[
            Text, Text, OptText, Int, Text, Text, Text, Text, OptText, Text, Int, Int, OptInt,
        ]
    };

    fn from_cols(c: &mut Cols) -> Result<ClientRecord> {
        Ok(ClientRecord {
            id: c.text()?,
            name: c.text()?,
            secret_hash: c.opt_text()?,
            public_client: c.flag()?,
            redirect_uris: c.text()?,
            post_logout_redirect_uris: c.text()?,
            grant_types: c.text()?,
            auth_method: c.text()?,
            jwks: c.opt_text()?,
            id_token_alg: c.text()?,
            groups_claim: c.flag()?,
            created_at: c.int()?,
            secret_rotated_at: c.opt_int()?,
        })
    }
}

/// A client with the throttle state of one key (its failed authentications from one
/// address), in one read: the throttle check costs no round trip of its own.
struct ClientWithAttempts {
    id: String,
    key: String,
}

impl Body for ClientWithAttempts {
    type Out = Option<(ClientRecord, Option<keyfort_core::throttle::AttemptState>)>;

    async fn run<E: Exec>(&self, e: &mut E) -> Result<Self::Out> {
        let sql = concat!(
            "SELECT ",
            client_columns!(),
            ", t.failures, t.blocked_until, t.updated_at FROM clients \
             LEFT JOIN attempt_throttles t ON t.key = $2 WHERE id = $1"
        );
        let mut kinds = [Kind::OptInt; 16];
        kinds[..13].copy_from_slice(ClientRecord::KINDS);
        fetch_map(
            e,
            sql,
            &[Arg::Text(&self.id), Arg::Text(&self.key)],
            &kinds,
            |c| {
                let client = ClientRecord::from_cols(c)?;
                let attempts = match (c.opt_int()?, c.opt_int()?, c.opt_int()?) {
                    (Some(failures), Some(blocked_until), Some(updated_at)) => {
                        Some(keyfort_core::throttle::AttemptState {
                            failures,
                            blocked_until,
                            updated_at,
                        })
                    }
                    _ => None,
                };
                Ok((client, attempts))
            },
        )
        .await
    }
}

fn summary(c: &ClientRecord) -> serde_json::Value {
    serde_json::json!({
        "clientId": c.id, "name": c.name, "public": c.public_client, "redirectUris": c.redirect_uri_list(),
        "postLogoutRedirectUris": c.post_logout_uri_list(), "grantTypes": c.grant_type_list(),
        "authMethod": c.auth_method, "idTokenAlg": c.id_token_alg, "groupsClaim": c.groups_claim,
    })
}

impl Store {
    /// Registers a client; audited as `client.created` in the same commit.
    pub async fn create_client(&self, c: &ClientRecord, actor: &str) -> Result<()> {
        self.transact(CreateClient {
            client: c.clone(),
            actor: actor.to_string(),
        })
        .await
    }

    pub async fn client(&self, id: &str) -> Result<Option<ClientRecord>> {
        self.read(ClientById(id.to_string())).await
    }

    /// A client and the state of the attempt throttle `key`, in one read.
    pub async fn client_with_attempts(
        &self,
        id: &str,
        key: &str,
    ) -> Result<Option<(ClientRecord, Option<keyfort_core::throttle::AttemptState>)>> {
        self.read(ClientWithAttempts {
            id: id.to_string(),
            key: key.to_string(),
        })
        .await
    }

    pub async fn list_clients(&self) -> Result<Vec<ClientRecord>> {
        const SQL: &str = concat!(
            "SELECT ",
            client_columns!(),
            " FROM clients ORDER BY name, id"
        );
        self.records(SQL, &[]).await
    }

    /// Removes a client and, with it, every grant and token issued to it; audited in the
    /// same commit.
    pub async fn remove_client(&self, id: &str, actor: &str, now: i64) -> Result<()> {
        let removed = self
            .transact(RemoveClient {
                id: id.to_string(),
                actor: actor.to_string(),
                now,
            })
            .await?;
        if removed {
            Ok(())
        } else {
            Err(StoreError::NotFound("client"))
        }
    }

    /// Replaces a confidential client's secret (its hash); audited in the same commit.
    pub async fn set_client_secret(
        &self,
        id: &str,
        secret_hash: &str,
        actor: &str,
        now: i64,
    ) -> Result<()> {
        let set = self
            .transact(SetClientSecret {
                id: id.to_string(),
                secret_hash: secret_hash.to_string(),
                actor: actor.to_string(),
                now,
            })
            .await?;
        if set {
            Ok(())
        } else {
            Err(StoreError::NotFound("confidential client"))
        }
    }
}

struct CreateClient {
    client: ClientRecord,
    actor: String,
}

impl Body for CreateClient {
    type Out = ();

    async fn run<E: Exec>(&self, e: &mut E) -> Result<()> {
        let c = &self.client;
        e.exec(
            concat!(
                "INSERT INTO clients (",
                client_columns!(),
                ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, NULL)"
            ),
            &[
                Arg::Text(&c.id),
                Arg::Text(&c.name),
                Arg::OptText(c.secret_hash.as_deref()),
                Arg::Int(flag(c.public_client)),
                Arg::Text(&c.redirect_uris),
                Arg::Text(&c.post_logout_redirect_uris),
                Arg::Text(&c.grant_types),
                Arg::Text(&c.auth_method),
                Arg::OptText(c.jwks.as_deref()),
                Arg::Text(&c.id_token_alg),
                Arg::Int(flag(c.groups_claim)),
                Arg::Int(c.created_at),
            ],
        )
        .await
        .map_err(|e| e.named_conflict("client"))?;
        let ev =
            AuditEvent::new(c.created_at, &self.actor, "client.created", &c.id).after(summary(c));
        audit::write_with(e, &ev).await
    }
}

struct RemoveClient {
    id: String,
    actor: String,
    now: i64,
}

impl Body for RemoveClient {
    /// `false`: no such client, nothing written.
    type Out = bool;

    async fn run<E: Exec>(&self, e: &mut E) -> Result<bool> {
        const SQL: &str = concat!(
            "DELETE FROM clients WHERE id = $1 RETURNING ",
            client_columns!()
        );
        let Some(gone) = fetch_record::<ClientRecord, _>(e, SQL, &[Arg::Text(&self.id)]).await?
        else {
            return Ok(false);
        };
        // A removed application holds no roles (a later client of the same id would
        // otherwise inherit them).
        e.exec(
            "DELETE FROM role_assignments WHERE principal_kind = 'client' AND principal_id = $1",
            &[Arg::Text(&self.id)],
        )
        .await?;
        let ev = AuditEvent::new(self.now, &self.actor, "client.removed", &self.id)
            .before(summary(&gone));
        audit::write_with(e, &ev).await?;
        Ok(true)
    }
}

struct SetClientSecret {
    id: String,
    secret_hash: String,
    actor: String,
    now: i64,
}

impl Body for SetClientSecret {
    /// `false`: no such confidential client, nothing written.
    type Out = bool;

    async fn run<E: Exec>(&self, e: &mut E) -> Result<bool> {
        let n = e
            .exec(
                "UPDATE clients SET secret_hash = $1, secret_rotated_at = $2, version = version + 1, \
                 updated_at = $2 WHERE id = $3 AND public_client = 0",
                &[Arg::Text(&self.secret_hash), Arg::Int(self.now), Arg::Text(&self.id)],
            )
            .await?;
        if n == 0 {
            return Ok(false);
        }
        let ev = AuditEvent::new(self.now, &self.actor, "client.secret_rotated", &self.id);
        audit::write_with(e, &ev).await?;
        Ok(true)
    }
}
