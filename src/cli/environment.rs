//! `solguard environment snapshot`: saves what an environment has installed, for
//! `--environment FILE`. Two Dataverse Web API calls with the bearer token from an environment
//! variable (never logged): `RetrieveVersion()` for the platform version, and the installed
//! solutions with their publishers and parents, following `@odata.nextLink` paging.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use serde_json::Value;

#[derive(Debug, Subcommand)]
pub enum EnvironmentCommand {
    /// Save an environment's platform version and installed solutions as a snapshot file.
    Snapshot(SnapshotArgs),
}

#[derive(Debug, Args)]
pub struct SnapshotArgs {
    /// The environment's URL, e.g. https://contoso.crm.dynamics.com.
    #[arg(long)]
    url: String,
    /// Name of the environment variable that holds the OAuth bearer token.
    #[arg(long, value_name = "VAR")]
    token_env: String,
    /// Where to write the snapshot (JSON).
    #[arg(long)]
    output: PathBuf,
    /// The environment's name in findings (default: the first label of the host).
    #[arg(long)]
    name: Option<String>,
    /// Seconds each request may take.
    #[arg(long, default_value_t = 30)]
    timeout_s: u64,
}

/// The query the snapshot file format is defined by.
const SOLUTIONS_QUERY: &str = "solutions?$select=uniquename,version,ismanaged&$expand=publisherid($select=uniquename,customizationprefix,customizationoptionvalueprefix),parentsolutionid($select=uniquename)";
/// Pages followed at most: a server that links forever is cut off.
const MAX_PAGES: usize = 1000;

pub fn run(command: &EnvironmentCommand) -> anyhow::Result<ExitCode> {
    match command {
        EnvironmentCommand::Snapshot(args) => snapshot(args),
    }
}

struct WebApi {
    agent: ureq::Agent,
    token: String,
    timeout: Duration,
}

impl WebApi {
    fn get(&self, url: &str) -> anyhow::Result<Value> {
        let response = self
            .agent
            .get(url)
            .header("Authorization", &format!("Bearer {}", self.token))
            .header("Accept", "application/json")
            .header("OData-MaxVersion", "4.0")
            .header("OData-Version", "4.0")
            .call();
        let shown = url.split('?').next().unwrap_or(url);
        let mut response = match response {
            Ok(response) => response,
            Err(ureq::Error::Timeout(_)) => bail!(
                "{shown}: no answer within {} s (--timeout-s)",
                self.timeout.as_secs()
            ),
            Err(error) => bail!(
                "{shown}: {}",
                error.to_string().replace(&self.token, "<token>")
            ),
        };
        let status = response.status().as_u16();
        match status {
            200..=299 => {}
            401 | 403 => bail!("{shown}: the server refused the token (HTTP {status}); get a new token for this environment"),
            _ => bail!("{shown}: the server answered HTTP {status}"),
        }
        let text = response
            .body_mut()
            .with_config()
            .limit(256 << 20)
            .read_to_string()
            .with_context(|| format!("{shown}: cannot read the answer"))?;
        serde_json::from_str(&text)
            .with_context(|| format!("{shown}: the answer is not the Web API's JSON"))
    }
}

fn snapshot(args: &SnapshotArgs) -> anyhow::Result<ExitCode> {
    let token = std::env::var(&args.token_env).with_context(|| {
        format!(
            "the environment variable {} (--token-env) is not set",
            args.token_env
        )
    })?;
    if token.trim().is_empty() {
        bail!(
            "the environment variable {} (--token-env) is empty",
            args.token_env
        );
    }
    let base = args.url.trim_end_matches('/');
    let timeout = Duration::from_secs(args.timeout_s);
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .http_status_as_error(false)
        .max_redirects(0)
        .user_agent(concat!("solguard/", env!("CARGO_PKG_VERSION")))
        .build()
        .into();
    let api = WebApi {
        agent,
        token: token.trim().to_owned(),
        timeout,
    };
    let version = api.get(&format!("{base}/api/data/v9.2/RetrieveVersion()"))?;
    let Some(version) = version["Version"].as_str().map(str::to_owned) else {
        bail!("{base}: RetrieveVersion() answered without a Version");
    };
    let mut rows = Vec::new();
    let mut next = Some(format!("{base}/api/data/v9.2/{SOLUTIONS_QUERY}"));
    let mut pages = 0;
    while let Some(url) = next.take() {
        pages += 1;
        if pages > MAX_PAGES {
            bail!("{base}: more than {MAX_PAGES} pages of solutions; stopped");
        }
        let page = api.get(&url)?;
        let Some(value) = page["value"].as_array() else {
            bail!("{base}: the solutions answer has no value array");
        };
        rows.extend(value.iter().cloned());
        next = page["@odata.nextLink"].as_str().map(str::to_owned);
    }
    let name = args.name.clone().unwrap_or_else(|| {
        base.split("://")
            .nth(1)
            .unwrap_or(base)
            .split(['.', ':', '/'])
            .next()
            .unwrap_or("environment")
            .to_owned()
    });
    let count = rows.len();
    let file = serde_json::json!({ "name": name, "version": version, "solutions": rows });
    let bytes = serde_json::to_vec_pretty(&file)?;
    solguard::report::write_atomic(&args.output, &bytes)
        .with_context(|| format!("writing {}", args.output.display()))?;
    // The file must read back as a snapshot.
    solguard::config::Environment::load(&args.output)?;
    eprintln!(
        "{}: {name} on {version}, {count} solutions ({pages} page(s))",
        args.output.display()
    );
    Ok(ExitCode::SUCCESS)
}
