//! JUnit XML, readable by Azure DevOps `PublishTestResults` and GitHub test reporters: for a
//! report, one suite per package and one test case per rule, failing per finding at or above
//! the fail-on severity; for policy tests, one suite per policy and one test case per case.

use std::collections::BTreeMap;
use std::io::Write;

use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use quick_xml::Writer;

use super::CaseResult;
use super::{Assessment, Report};
use crate::diagnostic::Finding;
use crate::diagnostic::{xml_safe, Severity};

fn package_name(package: &Assessment) -> String {
    match (&package.unique_name, &package.version) {
        (Some(name), Some(version)) => format!("{name} {version}"),
        _ => package.path.display().to_string(),
    }
}

fn finding_line(finding: &Finding) -> String {
    let location = finding
        .location
        .as_ref()
        .map(|l| format!(" at {l}"))
        .unwrap_or_default();
    let waived = finding
        .waived
        .as_ref()
        .map(|w| format!(" (waived: {})", w.reason))
        .unwrap_or_default();
    format!(
        "{} {}/{}{location}: {}{waived}",
        finding.severity, finding.rule, finding.code, finding.message
    )
}

/// Writes `report` as JUnit XML: a finding fails its test case when it counts and its severity
/// reaches `fail_on`.
pub fn write_junit(
    out: impl Write,
    report: &Report,
    fail_on: Option<Severity>,
) -> std::io::Result<()> {
    xml_1_0(out, |buffer| junit_document(buffer, report, fail_on))
}

/// Writes the document `write` produces with every character XML 1.0 forbids (control
/// characters from a package's names and messages) written visibly: the markup solguard
/// writes holds none, so the whole text can be filtered at once and stays well-formed.
fn xml_1_0(
    mut out: impl Write,
    write: impl FnOnce(&mut Vec<u8>) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let mut buffer = Vec::new();
    write(&mut buffer)?;
    let text = String::from_utf8_lossy(&buffer);
    out.write_all(xml_safe(&text).as_bytes())
}

fn junit_document(
    out: &mut Vec<u8>,
    report: &Report,
    fail_on: Option<Severity>,
) -> std::io::Result<()> {
    let fails = |f: &Finding| f.counts() && fail_on.is_some_and(|t| f.severity >= t);
    let mut rule_ids: Vec<&str> = report.rules.iter().map(|r| r.id.as_str()).collect();
    for finding in report.packages.iter().flat_map(|p| &p.findings) {
        if !rule_ids.contains(&finding.rule.as_str()) {
            rule_ids.push(&finding.rule);
        }
    }
    let mut writer = Writer::new_with_indent(out, b' ', 2);
    writer.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
    let failed_cases = |package: &Assessment| {
        rule_ids
            .iter()
            .filter(|id| package.findings.iter().any(|f| f.rule == **id && fails(f)))
            .count()
    };
    let total = (rule_ids.len() * report.packages.len()).to_string();
    let failed: usize = report.packages.iter().map(failed_cases).sum();
    let failed = failed.to_string();
    let mut root = BytesStart::new("testsuites");
    root.push_attribute(("name", "solguard"));
    root.push_attribute(("tests", total.as_str()));
    root.push_attribute(("failures", failed.as_str()));
    writer.write_event(Event::Start(root))?;
    for package in &report.packages {
        let name = package_name(package);
        let tests = rule_ids.len().to_string();
        let failures = failed_cases(package).to_string();
        let mut suite = BytesStart::new("testsuite");
        suite.push_attribute(("name", name.as_str()));
        suite.push_attribute(("tests", tests.as_str()));
        suite.push_attribute(("failures", failures.as_str()));
        suite.push_attribute(("errors", "0"));
        suite.push_attribute(("skipped", "0"));
        let path = package.path.display().to_string();
        suite.push_attribute(("file", path.as_str()));
        writer.write_event(Event::Start(suite))?;
        // What the run is reproducible from, where JUnit readers keep run facts.
        writer.write_event(Event::Start(BytesStart::new("properties")))?;
        for (name, value) in [
            ("tool", report.tool.as_str()),
            ("policy_set", report.policy_set.as_str()),
        ] {
            let mut property = BytesStart::new("property");
            property.push_attribute(("name", name));
            property.push_attribute(("value", value));
            writer.write_event(Event::Empty(property))?;
        }
        writer.write_event(Event::End(BytesEnd::new("properties")))?;
        for id in &rule_ids {
            let findings: Vec<&Finding> =
                package.findings.iter().filter(|f| f.rule == *id).collect();
            let mut case = BytesStart::new("testcase");
            case.push_attribute(("classname", name.as_str()));
            case.push_attribute(("name", *id));
            case.push_attribute(("file", path.as_str()));
            if findings.is_empty() {
                writer.write_event(Event::Empty(case))?;
                continue;
            }
            writer.write_event(Event::Start(case))?;
            for finding in findings.iter().filter(|f| fails(f)) {
                let mut failure = BytesStart::new("failure");
                failure.push_attribute(("message", finding.message.as_str()));
                failure.push_attribute(("type", finding.code.as_str()));
                writer.write_event(Event::Start(failure))?;
                let mut body = finding_line(finding);
                if let Some(hint) = &finding.hint {
                    body.push_str(&format!("\nhint: {hint}"));
                }
                writer.write_event(Event::Text(BytesText::new(&body)))?;
                writer.write_event(Event::End(BytesEnd::new("failure")))?;
            }
            let others: Vec<String> = findings
                .iter()
                .filter(|f| !fails(f))
                .map(|f| finding_line(f))
                .collect();
            if !others.is_empty() {
                writer.write_event(Event::Start(BytesStart::new("system-out")))?;
                writer.write_event(Event::Text(BytesText::new(&others.join("\n"))))?;
                writer.write_event(Event::End(BytesEnd::new("system-out")))?;
            }
            writer.write_event(Event::End(BytesEnd::new("testcase")))?;
        }
        writer.write_event(Event::End(BytesEnd::new("testsuite")))?;
    }
    writer.write_event(Event::End(BytesEnd::new("testsuites")))?;
    writer.into_inner().flush()
}

/// Writes `results` (and policies without cases, as skipped tests) as JUnit XML.
pub fn write_case_junit(
    out: impl Write,
    results: &[CaseResult],
    untested: &[String],
) -> std::io::Result<()> {
    xml_1_0(out, |buffer| case_document(buffer, results, untested))
}

fn case_document(
    out: &mut Vec<u8>,
    results: &[CaseResult],
    untested: &[String],
) -> std::io::Result<()> {
    let mut suites: BTreeMap<&str, Vec<&CaseResult>> = BTreeMap::new();
    for result in results {
        suites
            .entry(result.policy.as_str())
            .or_default()
            .push(result);
    }
    let failures = results.iter().filter(|r| !r.passed).count();
    let mut writer = Writer::new_with_indent(out, b' ', 2);
    writer.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
    let total = (results.len() + untested.len()).to_string();
    let failed = failures.to_string();
    let mut root = BytesStart::new("testsuites");
    root.push_attribute(("name", "solguard policy tests"));
    root.push_attribute(("tests", total.as_str()));
    root.push_attribute(("failures", failed.as_str()));
    writer.write_event(Event::Start(root))?;
    for (policy, cases) in &suites {
        let tests = cases.len().to_string();
        let failed = cases.iter().filter(|c| !c.passed).count().to_string();
        let mut suite = BytesStart::new("testsuite");
        suite.push_attribute(("name", *policy));
        suite.push_attribute(("tests", tests.as_str()));
        suite.push_attribute(("failures", failed.as_str()));
        writer.write_event(Event::Start(suite))?;
        for case in cases {
            let mut element = BytesStart::new("testcase");
            element.push_attribute(("classname", case.policy.as_str()));
            element.push_attribute(("name", case.name.as_str()));
            element.push_attribute(("file", case.origin.as_str()));
            if case.passed {
                writer.write_event(Event::Empty(element))?;
                continue;
            }
            writer.write_event(Event::Start(element))?;
            let mut detail = format!(
                "expected: [{}]\nactual:   [{}]",
                case.expected.join(", "),
                case.actual.join(", ")
            );
            if let Some(error) = &case.error {
                detail.push_str(&format!("\nerror: {error}"));
            }
            let mut failure = BytesStart::new("failure");
            failure.push_attribute(("message", "findings differ from the expected ones"));
            writer.write_event(Event::Start(failure))?;
            writer.write_event(Event::Text(BytesText::new(&detail)))?;
            writer.write_event(Event::End(BytesEnd::new("failure")))?;
            writer.write_event(Event::End(BytesEnd::new("testcase")))?;
        }
        writer.write_event(Event::End(BytesEnd::new("testsuite")))?;
    }
    if !untested.is_empty() {
        let mut suite = BytesStart::new("testsuite");
        suite.push_attribute(("name", "untested-policies"));
        let count = untested.len().to_string();
        suite.push_attribute(("tests", count.as_str()));
        suite.push_attribute(("skipped", count.as_str()));
        writer.write_event(Event::Start(suite))?;
        for id in untested {
            let mut element = BytesStart::new("testcase");
            element.push_attribute(("classname", id.as_str()));
            element.push_attribute(("name", "has test cases"));
            writer.write_event(Event::Start(element))?;
            let mut skipped = BytesStart::new("skipped");
            skipped.push_attribute(("message", "the policy has no test cases"));
            writer.write_event(Event::Empty(skipped))?;
            writer.write_event(Event::End(BytesEnd::new("testcase")))?;
        }
        writer.write_event(Event::End(BytesEnd::new("testsuite")))?;
    }
    writer.write_event(Event::End(BytesEnd::new("testsuites")))?;
    Ok(())
}
