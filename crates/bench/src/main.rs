//! `keyfort-bench`: see BENCHMARKS.md for how to run it and what it reports.

use anyhow::{Context, Result, bail};
use clap::Parser;
use keyfort_bench::report::Outcome;
use keyfort_bench::scenarios::{Budget, Scenario};
use keyfort_bench::{floor, provision, target};
use std::time::Duration;

#[derive(Parser)]
#[command(name = "keyfort-bench", about = "Load generator for Keyfort")]
struct Args {
    /// Scenarios to run: passkey-signin, oidc-login, refresh, client-credentials, crypto-floor,
    /// policy-eval (the policy evaluator alone), or all.
    #[arg(long = "scenario", default_value = "all")]
    scenarios: Vec<String>,
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Seconds per scenario.
    #[arg(long, default_value_t = 10)]
    duration: u64,
    /// Stop a scenario after this many operations.
    #[arg(long)]
    max_ops: Option<u64>,
    /// Users (each with a passkey) that sign in during the run.
    #[arg(long, default_value_t = 10_000)]
    users: usize,
    /// Total users in the directory (the `scale` scenario: 1000000); the ones beyond
    /// --users are bulk-imported with --passkeys-each passkeys and never sign in.
    #[arg(long)]
    population: Option<usize>,
    #[arg(long, default_value_t = 2)]
    passkeys_each: usize,
    /// PostgreSQL URL of an empty database (default: the embedded SQLite store).
    #[arg(long)]
    database_url: Option<String>,
    /// Before the measured scenarios, issue this many client-credentials tokens (each a grant
    /// and an access-token record) so the store holds that much issued state.
    #[arg(long)]
    pile_up: Option<u64>,
    /// Before the measured scenarios, run this many passkey sign-ins (each a session, a
    /// spent ceremony and a sign-in log row) so the store holds that many sessions.
    #[arg(long)]
    pile_up_sessions: Option<u64>,
    /// Before the run, create this many groups, put each signing-in user in 50 of them and
    /// apply a policy of 3 passkey profiles and 20 targets (`policy_load`), so every
    /// sign-in loads the user's groups and evaluates the policy.
    #[arg(long)]
    policy_groups: Option<usize>,
    /// With --policy-groups: a policy whose targets are all users only (the same
    /// directory, no membership read at sign-in), as a control.
    #[arg(long)]
    policy_without_group_targets: bool,
    /// The keyfort binary to run (default: the one beside this binary).
    #[arg(long)]
    keyfort: Option<std::path::PathBuf>,
    /// Run the server inside this process (no server CPU/memory figures).
    #[arg(long)]
    in_process: bool,
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let mut wanted: Vec<String> = args
        .scenarios
        .iter()
        .flat_map(|s| s.split(',').map(str::to_string))
        .collect();
    if wanted.iter().any(|s| s == "all") {
        wanted = [
            "crypto-floor",
            "policy-eval",
            "passkey-signin",
            "oidc-login",
            "refresh",
            "client-credentials",
        ]
        .map(String::from)
        .to_vec();
    }
    let floor = floor::measure(2_000)?;
    println!(
        "crypto floor (one core): P-256 sign {:.1} µs, P-256 verify {:.1} µs, ES256 JWT {:.1} µs (key parsed per token: {:.1} µs) → {:.1} µs per sign-in",
        floor.p256_sign_us,
        floor.p256_verify_us,
        floor.es256_jwt_us,
        floor.es256_jwt_unparsed_us,
        floor.per_signin_us()
    );
    if wanted.iter().any(|s| s == "policy-eval") {
        let (median, p99) = keyfort_bench::policy_load::measure_evaluator(200_000)?;
        println!(
            "policy evaluator (3 profiles, 20 targets, a user in {} groups): median {:.0} ns, p99 {:.0} ns per evaluation",
            keyfort_bench::policy_load::MEMBERSHIPS,
            median,
            p99
        );
    }
    let scenarios: Vec<Scenario> = wanted
        .iter()
        .filter(|s| s.as_str() != "crypto-floor" && s.as_str() != "policy-eval")
        .map(|s| Scenario::parse(s).with_context(|| format!("unknown scenario {s}")))
        .collect::<Result<_>>()?;
    if scenarios.is_empty() {
        return Ok(());
    }
    let dir = tempfile::tempdir()?;
    let url = provision::database_url(dir.path(), args.database_url.as_deref())?;
    let port = target::free_port()?;
    let base = format!("http://localhost:{port}");
    let store = keyfort_store::Store::open(&url).await?;
    let t = std::time::Instant::now();
    let dormant = args
        .population
        .unwrap_or(args.users)
        .saturating_sub(args.users);
    let mut fixture =
        provision::provision_population(&store, &base, args.users, dormant, args.passkeys_each)
            .await?;
    println!(
        "provisioned {} active users with a passkey each, and {} more with {} passkeys each, in {:.1} s ({} store)",
        args.users,
        dormant,
        args.passkeys_each,
        t.elapsed().as_secs_f64(),
        store.backend().as_str()
    );
    if let Some(groups) = args.policy_groups {
        let t = std::time::Instant::now();
        let users: Vec<String> = (0..args.users).map(|i| format!("bench{i:07}")).collect();
        keyfort_bench::policy_load::provision(
            &store,
            &users,
            groups,
            !args.policy_without_group_targets,
        )
        .await?;
        println!(
            "policy: {groups} groups, each signing-in user in {} of them, {} include targets and 3 profiles, in {:.1} s",
            keyfort_bench::policy_load::MEMBERSHIPS,
            keyfort_bench::policy_load::TARGETS,
            t.elapsed().as_secs_f64()
        );
    }
    store.close().await;
    let server = if args.in_process {
        target::Server::in_process(dir.path(), port, args.database_url.as_deref()).await?
    } else {
        let bin = match args.keyfort.clone().or_else(target::sibling_keyfort) {
            Some(b) => b,
            None => bail!("no keyfort binary found beside keyfort-bench; pass --keyfort"),
        };
        target::Server::spawn(&bin, dir.path(), port, args.database_url.as_deref())?
    };
    if let Some(pid) = server.pid() {
        tokio::time::sleep(Duration::from_millis(300)).await;
        if let Some(rss) = target::memory(pid, "VmRSS:") {
            println!(
                "server idle RSS after start: {:.1} MB",
                rss as f64 / 1048576.0
            );
        }
    }
    println!(
        "concurrency {}, {} s per scenario",
        args.concurrency, args.duration
    );
    println!("{}", Outcome::header());
    let budget = Budget {
        duration: Duration::from_secs(args.duration),
        max_ops: args.max_ops,
    };
    let mut failed = false;
    let piles = [
        (args.pile_up_sessions, Scenario::PasskeySignin, "sessions"),
        (args.pile_up, Scenario::ClientCredentials, "issued tokens"),
    ];
    for (n, scenario, what) in piles {
        let Some(n) = n else { continue };
        let pile = Budget {
            duration: Duration::from_secs(24 * 3600),
            max_ops: Some(n),
        };
        let o = keyfort_bench::scenarios::run(
            scenario,
            &server.base,
            &mut fixture,
            args.concurrency,
            pile,
            server.pid(),
        )
        .await?;
        println!(
            "{}  (pile-up of {} {what}, not a measurement)",
            o.line(Some(floor.per_signin_us())),
            o.ops
        );
        failed |= o.errors > 0;
    }
    for s in scenarios {
        let o = keyfort_bench::scenarios::run(
            s,
            &server.base,
            &mut fixture,
            args.concurrency,
            budget,
            server.pid(),
        )
        .await?;
        println!("{}", o.line(Some(floor.per_signin_us())));
        if let Some(e) = &o.first_error {
            println!("  first error: {e}");
            failed = true;
        }
    }
    if failed {
        bail!("some operations failed");
    }
    Ok(())
}
