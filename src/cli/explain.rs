//! `solguard explain QUERY`: what a rule or a finding code means, for every rule a run can
//! report: the policies (their declared `[codes]`), solguard's own checks (`package-format`,
//! `waivers`, the audit's `repository`) and the engine's codes every policy can have
//! (`policy-error`, `findings-truncated`). QUERY is a rule id (`environment-fit`), a finding
//! as reports print it (`environment-fit/mode-conflict`), or a bare code (`waiver-expired`).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::bail;
use clap::Args;

use solguard::diagnostic::{CodeDoc, RuleInfo};
use solguard::pipeline::Rules;

#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// A rule id, RULE/CODE, or a finding code.
    query: String,
    /// Folder of extra policies; they override shipped ones by id.
    #[arg(long)]
    policies: Option<PathBuf>,
}

impl ExplainArgs {
    pub fn of(query: &str, policies: Option<PathBuf>) -> Self {
        Self {
            query: query.to_owned(),
            policies,
        }
    }
}

/// Every rule a run can report, with its codes.
fn every_rule(args: &ExplainArgs) -> anyhow::Result<Vec<RuleInfo>> {
    let config = super::rules::load_config(None)?;
    let rules = Rules::load(&config, args.policies.as_deref())?;
    let mut all = rules.pipeline(config.eval.clone()).rules();
    all.push(solguard::audit::repository_rule());
    Ok(all)
}

pub fn run(args: &ExplainArgs) -> anyhow::Result<ExitCode> {
    let rules = every_rule(args)?;
    let query = args.query.trim();
    let (rule_part, code_part) = match query.split_once('/') {
        Some((rule, code)) => (Some(rule), Some(code)),
        None => (None, None),
    };
    let mut out = std::io::stdout().lock();
    if let (Some(rule_id), Some(code)) = (rule_part, code_part) {
        let Some(rule) = rules.iter().find(|r| r.id == rule_id) else {
            bail!("no rule {rule_id:?}; known rules: {}", ids(&rules));
        };
        let Some(doc) = rule.code(code) else {
            bail!(
                "rule {rule_id} has no code {code:?}; its codes: {}",
                rule.codes
                    .iter()
                    .map(|c| c.code.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        };
        write_code(&mut out, rule, doc)?;
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(rule) = rules.iter().find(|r| r.id == query) {
        write_rule(&mut out, rule)?;
        return Ok(ExitCode::SUCCESS);
    }
    let matches: Vec<(&RuleInfo, &CodeDoc)> = rules
        .iter()
        .filter_map(|r| r.code(query).map(|c| (r, c)))
        .collect();
    if matches.is_empty() {
        bail!(
            "{query:?} is no rule or finding code; known rules: {}",
            ids(&rules)
        );
    }
    // Engine codes belong to every policy: say it once.
    if matches.len() > 1
        && matches
            .iter()
            .all(|(_, c)| c.summary == matches[0].1.summary)
    {
        let (_, doc) = matches[0];
        writeln!(out, "{query} (any policy)")?;
        writeln!(out, "{}", doc.summary)?;
        return Ok(ExitCode::SUCCESS);
    }
    for (index, (rule, doc)) in matches.iter().enumerate() {
        if index > 0 {
            writeln!(out)?;
        }
        write_code(&mut out, rule, doc)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn ids(rules: &[RuleInfo]) -> String {
    rules
        .iter()
        .map(|r| r.id.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

fn write_code(out: &mut impl Write, rule: &RuleInfo, doc: &CodeDoc) -> std::io::Result<()> {
    writeln!(
        out,
        "{}/{} ({})",
        rule.id,
        doc.code,
        doc.severity.unwrap_or(rule.severity)
    )?;
    writeln!(out, "{}\n", doc.summary)?;
    writeln!(out, "Rule {}: {}", rule.id, rule.title)?;
    write_fix(out, rule)
}

fn write_rule(out: &mut impl Write, rule: &RuleInfo) -> std::io::Result<()> {
    let kind = if rule.policy {
        "policy"
    } else {
        "built-in check"
    };
    writeln!(
        out,
        "{} ({kind}, default severity {})",
        rule.id, rule.severity
    )?;
    writeln!(out, "{}\n", rule.title)?;
    writeln!(out, "{}", rule.description.trim())?;
    if !rule.codes.is_empty() {
        writeln!(out, "\nCodes:")?;
        for code in &rule.codes {
            let severity = code.severity.map(|s| format!(" ({s})")).unwrap_or_default();
            writeln!(out, "  {}{severity}: {}", code.code, code.summary)?;
        }
    }
    if !rule.params.is_empty() {
        writeln!(out, "\nParams ([rules.{}.params]):", rule.id)?;
        for (key, doc) in &rule.params {
            writeln!(out, "  {key}: {doc}")?;
        }
    }
    write_fix(out, rule)
}

fn write_fix(out: &mut impl Write, rule: &RuleInfo) -> std::io::Result<()> {
    if let Some(hint) = &rule.hint {
        writeln!(out, "\nFix: {hint}")?;
    }
    if let Some(help) = &rule.help {
        writeln!(out, "Help: {help}")?;
    }
    Ok(())
}
