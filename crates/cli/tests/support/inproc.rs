//! An in-process Keyfort on an ephemeral port, with a cookie-keeping client
//! and a software authenticator driving the same JSON a browser would send.
#![allow(dead_code)]

use keyfort_server::config::{Config, Sources};
use keyfort_server::state::AppState;
use keyfort_softauthn::{Authenticator, Overrides};
use keyfort_store::Store;
use serde_json::{Value, json};

/// Runs a scenario on both stores: `mod name { sqlite(), postgres() }`.
#[macro_export]
macro_rules! on_both_stores {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() { super::$name(super::Db::Sqlite).await }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() { super::$name(super::Db::Postgres).await }
        }
    )*};
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Db {
    Sqlite,
    Postgres,
}

pub struct Harness {
    pub base: String,
    pub store: Store,
    pub admin_pass: String,
    pub http: reqwest::Client,
    _tmp: tempfile::TempDir,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Harness {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Starts a server on `db`; `None` when PostgreSQL is asked for but not available.
/// Per-address limits are raised far above what one suite sends from 127.0.0.1; the
/// throttling suite sets its own with [`start_with`].
pub async fn start(db: Db, test: &str) -> Option<Harness> {
    start_with(
        db,
        test,
        &[
            ("KEYFORT_THROTTLE_PASS_PER_IP_PER_MINUTE", "100000"),
            ("KEYFORT_THROTTLE_SIGNIN_PER_IP_PER_MINUTE", "100000"),
        ],
    )
    .await
}

/// [`start`] with settings of the test's own (environment names and values).
pub async fn start_with(db: Db, test: &str, settings: &[(&str, &str)]) -> Option<Harness> {
    start_with_root(db, test, settings, None).await
}

/// [`start_with`], FIDO metadata BLOBs verified against `root` instead of FIDO's.
pub async fn start_with_root(
    db: Db,
    test: &str,
    settings: &[(&str, &str)],
    root: Option<keyfort_server::metadata::MetadataRoot>,
) -> Option<Harness> {
    let tmp = tempfile::tempdir().unwrap();
    let database_url = match db {
        Db::Sqlite => None,
        Db::Postgres => {
            let admin = super::skip_without_postgres(test)?;
            Some(super::fresh_postgres_database(&admin).await)
        }
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let base = format!("http://localhost:{port}");
    let data_dir = tmp.path().display().to_string();
    let settings: Vec<(String, String)> = settings
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let env = |k: &str| match k {
        k if settings.iter().any(|(n, _)| n == k) => settings
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone()),
        "KEYFORT_PUBLIC_URL" => Some(base.clone()),
        "KEYFORT_DATA_DIR" => Some(data_dir.clone()),
        "KEYFORT_DATABASE_URL" => database_url.clone(),
        _ => None,
    };
    let config = Config::load(Sources {
        file: None,
        env: &env,
    })
    .unwrap();
    config.prepare_data_dir().unwrap();
    let store = Store::open(&config.database_url).await.unwrap();
    let pass = keyfort_server::bootstrap::first_start(&store, keyfort_server::state::now_ms())
        .await
        .unwrap()
        .unwrap();
    let state = match root {
        Some(root) => AppState::with_metadata_root(&config, store.clone(), root).await,
        None => AppState::new(&config, store.clone()).await,
    }
    .unwrap();
    let task = tokio::spawn(async move {
        keyfort_server::serve(listener, state, std::future::pending())
            .await
            .unwrap();
    });
    Some(Harness {
        base,
        store,
        admin_pass: pass.code,
        http: client(),
        _tmp: tmp,
        task,
    })
}

/// A response reduced to what tests look at.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
    pub set_cookie: bool,
}

impl Reply {
    pub fn code(&self) -> &str {
        self.body["error"].as_str().unwrap_or("")
    }
}

impl Harness {
    /// The server's data directory (its `master.key`).
    pub fn data_dir(&self) -> &std::path::Path {
        self._tmp.path()
    }

    /// The sealer of passkey sign-in ceremonies, as the server derives it.
    #[allow(dead_code)] // not every test binary reseals
    pub fn sealer(&self) -> keyfort_server::sealed::Sealer {
        self.sealer_for(keyfort_server::aead::Purpose::SealedCeremonies)
    }

    /// The sealer of waiting authorization requests, as the server derives it.
    #[allow(dead_code)]
    pub fn request_sealer(&self) -> keyfort_server::sealed::Sealer {
        self.sealer_for(keyfort_server::aead::Purpose::SealedRequests)
    }

    fn sealer_for(&self, purpose: keyfort_server::aead::Purpose) -> keyfort_server::sealed::Sealer {
        let master = keyfort_server::aead::MasterKey::load(None, self.data_dir()).unwrap();
        keyfort_server::sealed::Sealer::new(master.cipher(purpose).unwrap())
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn post(&self, client: &reqwest::Client, path: &str, body: &Value) -> Reply {
        let r = client.post(self.url(path)).json(body).send().await.unwrap();
        reply(r).await
    }

    pub async fn post_raw(&self, client: &reqwest::Client, path: &str, body: Vec<u8>) -> Reply {
        let r = client
            .post(self.url(path))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        reply(r).await
    }

    #[allow(dead_code)]
    pub async fn get_json(&self, client: &reqwest::Client, path: &str) -> Reply {
        let r = client.get(self.url(path)).send().await.unwrap();
        reply(r).await
    }

    pub async fn get_html(&self, client: &reqwest::Client, path: &str) -> (u16, String) {
        let r = client.get(self.url(path)).send().await.unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    }

    pub async fn tap_signin(&self, client: &reqwest::Client, username: &str, code: &str) -> Reply {
        self.post(
            client,
            "/api/signin/tap",
            &json!({ "username": username, "code": code }),
        )
        .await
    }

    /// Registers a passkey on `authn` from `client`'s session.
    pub async fn register(
        &self,
        client: &reqwest::Client,
        authn: &mut Authenticator,
        o: &Overrides,
    ) -> Reply {
        let begin = self
            .post(client, "/api/passkeys/register/begin", &json!({}))
            .await;
        assert_eq!(begin.status, 200, "register begin: {:?}", begin.body);
        let credential = authn.create_with(&begin.body, &self.base, o).unwrap();
        self.post(
            client,
            "/api/passkeys/register/finish",
            &json!({ "ceremonyId": begin.body["ceremonyId"], "credential": credential }),
        )
        .await
    }

    /// Begins a passkey sign-in (username-first when `username` is given).
    pub async fn signin_begin(&self, client: &reqwest::Client, username: Option<&str>) -> Value {
        let body = match username {
            Some(u) => json!({ "username": u }),
            None => json!({}),
        };
        let begin = self.post(client, "/api/signin/passkey/begin", &body).await;
        assert_eq!(begin.status, 200, "sign-in begin: {:?}", begin.body);
        begin.body
    }

    pub async fn signin_finish(
        &self,
        client: &reqwest::Client,
        begin: &Value,
        credential: &Value,
    ) -> Reply {
        self.post(
            client,
            "/api/signin/passkey/finish",
            &json!({ "ceremonyId": begin["ceremonyId"], "credential": credential }),
        )
        .await
    }

    /// A passkey sign-in that carries a waiting authorization `request`, as the sign-in
    /// page sends it.
    #[allow(dead_code)] // not every test binary signs in for an application
    pub async fn passkey_signin_for(
        &self,
        browser: &reqwest::Client,
        authn: &mut Authenticator,
        request: &str,
    ) -> Reply {
        let begin = self.signin_begin(browser, None).await;
        let cred = authn.get(&begin, &self.base).unwrap();
        self.post(
            browser,
            "/api/signin/passkey/finish",
            &json!({ "ceremonyId": begin["ceremonyId"], "credential": cred, "request": request }),
        )
        .await
    }

    /// A pass for `user` minted directly, on these terms (the policy decides them for the
    /// CLI and the API).
    #[allow(dead_code)]
    pub async fn mint_pass(
        &self,
        user: &keyfort_store::User,
        lifetime_minutes: i64,
        one_time: bool,
    ) -> keyfort_server::passes::IssuedPass {
        let terms = keyfort_core::tap::PassTerms {
            lifetime_minutes,
            one_time,
            length: 8,
        };
        let now = keyfort_server::state::now_ms();
        keyfort_server::passes::issue(&self.store, user, terms, "test", now)
            .await
            .unwrap()
    }

    /// A whole passkey sign-in.
    pub async fn passkey_signin(
        &self,
        client: &reqwest::Client,
        authn: &mut Authenticator,
        username: Option<&str>,
        o: &Overrides,
    ) -> Reply {
        let begin = self.signin_begin(client, username).await;
        let credential = authn.get_with(&begin, &self.base, o).unwrap();
        self.signin_finish(client, &begin, &credential).await
    }

    /// The newest sign-in log row.
    pub async fn last_signin(&self) -> keyfort_store::SignInRow {
        self.store.signin_log(1).await.unwrap().remove(0)
    }

    /// Sign-in attempts logged: rows, with a collapsed row counting each attempt it stands for.
    pub async fn signin_rows(&self) -> usize {
        let rows = self.store.signin_log(10_000).await.unwrap();
        rows.iter()
            .map(|r| usize::try_from(r.attempts).unwrap())
            .sum()
    }

    /// Rows in the sign-in log.
    pub async fn signin_row_count(&self) -> usize {
        self.store.signin_log(10_000).await.unwrap().len()
    }

    /// Onboards `admin` with the first-start pass and registers one passkey; returns a signed-in client.
    pub async fn onboard_admin(&self, authn: &mut Authenticator) -> reqwest::Client {
        let c = client();
        let r = self.tap_signin(&c, "admin", &self.admin_pass).await;
        assert_eq!(r.status, 200, "pass sign-in: {:?}", r.body);
        let r = self.register(&c, authn, &Overrides::default()).await;
        assert_eq!(r.status, 200, "registration: {:?}", r.body);
        c
    }
}

async fn reply(r: reqwest::Response) -> Reply {
    let status = r.status().as_u16();
    let set_cookie = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .any(|v| v.to_str().is_ok_and(|s| !s.contains("Max-Age=0")));
    let text = r.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Reply {
        status,
        body,
        set_cookie,
    }
}

/// A registered client as a test holds it.
pub struct TestClient {
    pub id: String,
    pub secret: Option<String>,
    pub redirect_uri: String,
}

impl Harness {
    /// Registers a client directly in the store (what `keyfort client add` does).
    pub async fn add_client(
        &self,
        public: bool,
        grants: &[&str],
        auth_method: &str,
        jwks: Option<&str>,
    ) -> TestClient {
        let id = keyfort_server::crypto::random_token()[..22].to_string();
        let secret = auth_method
            .starts_with("client_secret")
            .then(keyfort_server::crypto::random_token);
        let redirect_uri = "http://localhost:9/callback".to_string();
        let record = keyfort_store::ClientRecord {
            id: id.clone(),
            name: format!("Test app {}", &id[..6]),
            secret_hash: secret.as_deref().map(keyfort_server::crypto::token_hash),
            public_client: public,
            redirect_uris: serde_json::to_string(&[&redirect_uri]).unwrap(),
            post_logout_redirect_uris: serde_json::to_string(&["http://localhost:9/signed-out"])
                .unwrap(),
            grant_types: serde_json::to_string(grants).unwrap(),
            auth_method: auth_method.into(),
            jwks: jwks.map(str::to_string),
            id_token_alg: "ES256".into(),
            groups_claim: true,
            created_at: keyfort_server::state::now_ms(),
            secret_rotated_at: None,
        };
        self.store.create_client(&record, "test").await.unwrap();
        TestClient {
            id,
            secret,
            redirect_uri,
        }
    }

    /// Follows one redirect-less GET and returns the Location header.
    pub async fn location(&self, client: &reqwest::Client, url: &str) -> (u16, Option<String>) {
        let r = client.get(url).send().await.unwrap();
        let loc = r
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        (r.status().as_u16(), loc)
    }
}

/// One query parameter of a URL.
pub fn query(url: &str, name: &str) -> Option<String> {
    url::Url::parse(url)
        .ok()?
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// Directory and policy set-up the policy tests share.
impl Harness {
    /// A user named `name`, with nothing else, as `keyfort user add` makes one.
    #[allow(dead_code)]
    pub async fn add_user(&self, name: &str) {
        let draft = keyfort_core::directory::UserDraft {
            username: name.into(),
            ..Default::default()
        };
        let now = keyfort_server::state::now_ms();
        keyfort_server::app::directory::add_user(&self.store, &draft, "test", now)
            .await
            .unwrap();
    }

    /// A user with a multi-use pass, signed in with it; the signed-in client.
    #[allow(dead_code)] // not every test binary onboards users this way
    pub async fn onboard_user(&self, name: &str) -> reqwest::Client {
        let now = keyfort_server::state::now_ms();
        self.add_user(name).await;
        let pass = keyfort_server::app::passes::issue_pass(
            &self.store,
            name,
            Some(60),
            false,
            "test",
            now,
        )
        .await
        .unwrap();
        let c = client();
        let r = self.tap_signin(&c, name, &pass.temporary_access_pass).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        c
    }

    /// Changes the default passkey profile as `keyfort policy profile set default` does.
    #[allow(dead_code)]
    pub async fn change_default_profile(
        &self,
        input: keyfort_server::app::policy_edits::ProfileInput,
    ) -> Result<keyfort_server::app::policy::AppliedDto, keyfort_server::app::AppError> {
        keyfort_server::app::policy_edits::change_passkey_profile(
            &self.store,
            keyfort_server::app::providers::shipped(),
            keyfort_server::app::policy_edits::ProfileAction::Set,
            "default",
            input,
            false,
            "test",
            keyfort_server::state::now_ms(),
        )
        .await
    }
}
