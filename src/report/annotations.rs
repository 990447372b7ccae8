//! The report as CI annotations: GitHub Actions workflow commands (`::error file=…,line=…,
//! title=…::message`) and Azure Pipelines logging commands (`##vso[task.logissue …]message`),
//! one per finding, so findings show on the pull request or the build summary. Text from
//! packages is escaped as each service requires, so a hostile name cannot end a command early
//! or start another one.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::{Assessment, RenderOptions, Report};
use crate::diagnostic::{Finding, Severity, Verdict};

/// Where an annotation points: a file (the package, or the real file inside an unpacked
/// tree) and, for files on disk, a line; inside a zip, the entry and line go in the message.
struct Target {
    file: String,
    line: Option<u64>,
    inside: Option<String>,
}

fn target(package: &Assessment, finding: &Finding, base: Option<&Path>) -> Target {
    let location = finding.location.as_ref();
    // A removed item points into the earlier package it stood in.
    let package_path: PathBuf = location
        .and_then(|l| l.package.as_deref())
        .map_or_else(|| package.path.clone(), PathBuf::from);
    let shown = |path: &Path| {
        let relative = base.and_then(|b| path.strip_prefix(b).ok()).unwrap_or(path);
        relative.to_string_lossy().replace('\\', "/")
    };
    let is_zip = package_path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("zip"));
    match location {
        Some(location) if !is_zip => Target {
            file: shown(&package_path.join(location.file.as_ref())),
            line: Some(location.line.max(1)),
            inside: None,
        },
        Some(location) => Target {
            file: shown(&package_path),
            line: None,
            inside: Some(format!("{}:{}", location.file, location.line)),
        },
        None => Target {
            file: shown(&package_path),
            line: None,
            inside: None,
        },
    }
}

/// The message of an annotation: the solution, the place inside a zip, and the finding.
fn message(package: &Assessment, finding: &Finding, target: &Target) -> String {
    let solution = match (&package.unique_name, &package.version) {
        (Some(name), Some(version)) => format!("{name} {version}: "),
        _ => String::new(),
    };
    let inside = target
        .inside
        .as_ref()
        .map(|at| format!("{at}: "))
        .unwrap_or_default();
    let waived = finding
        .waived
        .as_ref()
        .map(|w| format!(" (waived: {})", w.reason))
        .unwrap_or_default();
    format!("{solution}{inside}{}{waived}", finding.message)
}

/// Every finding that goes on the record, with the package it belongs to.
fn each_finding(report: &Report) -> impl Iterator<Item = (Option<&Assessment>, &Finding)> {
    report
        .packages
        .iter()
        .flat_map(|p| p.findings.iter().map(move |f| (Some(p), f)))
        .chain(report.findings.iter().map(|f| (None, f)))
}

/// GitHub's escaping of a command's message: `%`, CR and LF.
fn github_data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// GitHub's escaping of a property value: the message's, plus `:` and `,`.
fn github_property(text: &str) -> String {
    github_data(text).replace(':', "%3A").replace(',', "%2C")
}

/// One GitHub workflow command per finding (`::error`, `::warning`, `::notice`); waived
/// findings are notices.
pub fn write_github(
    out: &mut impl Write,
    report: &Report,
    options: &RenderOptions,
) -> io::Result<()> {
    for (package, finding) in each_finding(report) {
        let command = match finding.severity {
            _ if !finding.counts() => "notice",
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "notice",
        };
        let mut properties = Vec::new();
        let text = match package {
            Some(package) => {
                let target = target(package, finding, options.base.as_deref());
                properties.push(format!("file={}", github_property(&target.file)));
                if let Some(line) = target.line {
                    properties.push(format!("line={line}"));
                }
                message(package, finding, &target)
            }
            None => finding.message.clone(),
        };
        properties.push(format!(
            "title={}",
            github_property(&format!("{}/{}", finding.rule, finding.code))
        ));
        writeln!(
            out,
            "::{command} {}::{}",
            properties.join(","),
            github_data(&text)
        )?;
    }
    Ok(())
}

/// Azure's escaping of logging-command text: `%` first, then CR, LF, `;` and `]`. The agent
/// takes `##vso[` anywhere in a line for a command, and Azure has no escape for it: a space
/// breaks it up (`# #vso[`), so text from a package can never issue one.
fn azure_escape(text: &str) -> String {
    text.replace('%', "%AZP25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
        .replace(';', "%3B")
        .replace(']', "%5D")
        .replace("##vso[", "# #vso[")
        .replace("##[", "# #[")
}

/// One `task.logissue` per error and warning (Azure has no lower level: infos and waived
/// findings are plain log lines), the run's figures as output variables, and with
/// `azure_complete` the task result.
pub fn write_azure(
    out: &mut impl Write,
    report: &Report,
    options: &RenderOptions,
) -> io::Result<()> {
    for (package, finding) in each_finding(report) {
        let (target, text) = match package {
            Some(package) => {
                let target = target(package, finding, options.base.as_deref());
                let text = message(package, finding, &target);
                (Some(target), text)
            }
            None => (None, finding.message.clone()),
        };
        let code = format!("{}/{}", finding.rule, finding.code);
        let kind = match finding.severity {
            Severity::Error if finding.counts() => "error",
            Severity::Warning if finding.counts() => "warning",
            _ => {
                writeln!(
                    out,
                    "{} {}: {}",
                    finding.severity,
                    azure_escape(&code),
                    azure_escape(&text)
                )?;
                continue;
            }
        };
        let mut properties = vec![format!("type={kind}")];
        if let Some(target) = &target {
            properties.push(format!("sourcepath={}", azure_escape(&target.file)));
            if let Some(line) = target.line {
                properties.push(format!("linenumber={line}"));
            }
        }
        properties.push(format!("code={}", azure_escape(&code)));
        writeln!(
            out,
            "##vso[task.logissue {}]{}",
            properties.join(";"),
            azure_escape(&text)
        )?;
    }
    for (name, value) in report.step_outputs() {
        writeln!(
            out,
            "##vso[task.setvariable variable=solguard.{name};isOutput=true]{}",
            azure_escape(&value)
        )?;
    }
    if options.azure_complete {
        let result = match report.outcome(options.fail_on) {
            Verdict::Fail => "Failed",
            Verdict::Warn => "SucceededWithIssues",
            Verdict::Pass => "Succeeded",
        };
        writeln!(out, "##vso[task.complete result={result};]solguard")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_text_cannot_end_a_command() {
        assert_eq!(
            github_data("50% done\r\n::error::x"),
            "50%25 done%0D%0A::error::x"
        );
        assert_eq!(github_property("a:b,c"), "a%3Ab%2Cc");
        assert_eq!(
            azure_escape("x;y]\n##vso[task.complete result=Failed]"),
            "x%3By%5D%0A# #vso[task.complete result=Failed%5D"
        );
        assert_eq!(azure_escape("100%"), "100%AZP25");
    }
}
