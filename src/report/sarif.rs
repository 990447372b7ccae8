//! The report as SARIF 2.1.0 (types from `serde-sarif`), for GitHub code scanning, the Azure
//! DevOps SARIF viewer and other code-scanning tools: one rule entry per rule of the run, one
//! result per finding with its level, message, location and finding code, waived findings as
//! suppressed results.
//!
//! Locations: for an unpacked package the finding points at the real file and line (so code
//! scanning annotates it); for a zip it points at the zip, and the file inside it with its line
//! is a nested artifact and a logical location (`customizations.xml:120`).

use std::collections::BTreeMap;
use std::io::{self, Write};

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde_json::{json, Value};
use serde_sarif::sarif::{
    Artifact, ArtifactLocation, Location, LogicalLocation, Message, MultiformatMessageString,
    PhysicalLocation, PropertyBag, Region, ReportingConfiguration, ReportingDescriptor, Result,
    ResultLevel, Run, Sarif, Suppression, Tool, ToolComponent,
};
use sha2::{Digest, Sha256};

use super::{Assessment, Report};
use crate::diagnostic::Severity;
use crate::diagnostic::{Finding, RuleInfo};

const SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";

/// Characters escaped in artifact URIs: everything but unreserved characters and `/` (paths
/// are relative references; a space or `#` in a file name must not break them).
const URI_ESCAPE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'/')
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// A file path as a URI reference with `/` separators: relative paths stay relative, a
/// Windows drive path becomes `file:///C:/…` and a UNC path `file://server/share/…` (the
/// drive letter's colon stays, so readers see a drive, not a scheme).
fn uri(path: &std::path::Path) -> String {
    let text = path.to_string_lossy().replace('\\', "/");
    let encode = |part: &str| utf8_percent_encode(part, URI_ESCAPE).to_string();
    let bytes = text.as_bytes();
    if bytes.len() >= 3 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':' && bytes[2] == b'/' {
        return format!("file:///{}:{}", &text[..1], encode(&text[2..]));
    }
    if let Some(share) = text.strip_prefix("//") {
        return format!("file://{}", encode(share));
    }
    encode(&text)
}

fn level(severity: Severity) -> ResultLevel {
    match severity {
        Severity::Error => ResultLevel::Error,
        Severity::Warning => ResultLevel::Warning,
        Severity::Info => ResultLevel::Note,
    }
}

fn level_name(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "note",
    }
}

/// `version-compatibility` -> `VersionCompatibility`.
fn pascal_case(id: &str) -> String {
    id.split('-')
        .map(|part| {
            let mut chars = part.chars();
            chars.next().map_or_else(String::new, |first| {
                first.to_uppercase().chain(chars).collect()
            })
        })
        .collect()
}

fn bag(pairs: Vec<(&str, Value)>) -> PropertyBag {
    PropertyBag::builder()
        .additional_properties(
            pairs
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect::<BTreeMap<_, _>>(),
        )
        .build()
}

fn descriptor(rule: &RuleInfo) -> ReportingDescriptor {
    let hint = rule.hint.clone().unwrap_or_default();
    let help_text = if hint.is_empty() {
        rule.description.clone()
    } else {
        format!("{}\n\nFix: {hint}", rule.description)
    };
    let mut properties = bag(vec![
        ("precision", json!("very-high")),
        (
            "problem.severity",
            json!(match rule.severity {
                Severity::Error => "error",
                Severity::Warning => "warning",
                Severity::Info => "recommendation",
            }),
        ),
    ]);
    properties.tags = Some(vec!["dataverse".into(), "solution-package".into()]);
    if !rule.codes.is_empty() {
        // The codes a rule emits (each result names its own in `properties.code`).
        let codes: serde_json::Map<String, serde_json::Value> = rule
            .codes
            .iter()
            .map(|c| (c.code.clone(), json!(c.summary)))
            .collect();
        properties
            .additional_properties
            .insert("codes".into(), serde_json::Value::Object(codes));
    }
    if !rule.params.is_empty() {
        properties
            .additional_properties
            .insert("params".into(), json!(rule.params));
    }
    let help_text = if rule.codes.is_empty() {
        help_text
    } else {
        let list: Vec<String> = rule
            .codes
            .iter()
            .map(|c| format!("- {}: {}", c.code, c.summary))
            .collect();
        format!("{help_text}\n\nCodes:\n{}", list.join("\n"))
    };
    let help_text = if rule.params.is_empty() {
        help_text
    } else {
        let list: Vec<String> = rule
            .params
            .iter()
            .map(|(key, doc)| format!("- {key}: {doc}"))
            .collect();
        format!(
            "{help_text}\n\nParams ([rules.{}.params]):\n{}",
            rule.id,
            list.join("\n")
        )
    };
    let builder = ReportingDescriptor::builder()
        .id(rule.id.clone())
        .name(pascal_case(&rule.id))
        .short_description(
            MultiformatMessageString::builder()
                .text(rule.title.clone())
                .build(),
        )
        .full_description(
            MultiformatMessageString::builder()
                .text(rule.description.clone())
                .build(),
        )
        .help(MultiformatMessageString::builder().text(help_text).build())
        .default_configuration(
            ReportingConfiguration::builder()
                .level(json!(level_name(rule.severity)))
                .build(),
        )
        .properties(properties);
    match &rule.help {
        Some(uri) => builder.help_uri(uri.clone()).build(),
        None => builder.build(),
    }
}

/// Rule descriptions for every rule of the run, plus any rule a finding names that the run did
/// not describe (a report read back from an older run).
fn all_rules(report: &Report) -> Vec<RuleInfo> {
    let mut rules = report.rules.clone();
    let findings = report
        .packages
        .iter()
        .flat_map(|p| &p.findings)
        .chain(&report.findings);
    for finding in findings {
        if !rules.iter().any(|r| r.id == finding.rule) {
            rules.push(RuleInfo {
                id: finding.rule.clone(),
                title: finding.rule.clone(),
                description: format!("Findings of rule {}.", finding.rule),
                severity: finding.severity,
                help: None,
                hint: None,
                policy: true,
                codes: Vec::new(),
                params: BTreeMap::new(),
            });
        }
    }
    rules
}

/// Stable identity of a finding across runs of the same package.
fn fingerprint(package: &Assessment, finding: &Finding) -> String {
    let mut hasher = Sha256::new();
    for part in [
        finding.rule.as_str(),
        finding.code.as_str(),
        package.unique_name.as_deref().unwrap_or(""),
        finding.message.as_str(),
    ] {
        hasher.update(part.as_bytes());
        hasher.update([0]);
    }
    hex::encode(&hasher.finalize()[..16])
}

struct Artifacts {
    list: Vec<Artifact>,
}

impl Artifacts {
    fn index_of(&mut self, uri: &str, parent: Option<i64>) -> i64 {
        let found = self.list.iter().position(|a| {
            a.parent_index == parent
                && a.location.as_ref().and_then(|l| l.uri.as_deref()) == Some(uri)
        });
        if let Some(index) = found {
            return index as i64;
        }
        let location = ArtifactLocation::builder().uri(uri.to_owned()).build();
        let artifact = match parent {
            Some(parent) => Artifact::builder()
                .location(location)
                .parent_index(parent)
                .build(),
            None => Artifact::builder().location(location).build(),
        };
        self.list.push(artifact);
        self.list.len() as i64 - 1
    }
}

fn location(package: &Assessment, finding: &Finding, artifacts: &mut Artifacts) -> Location {
    // A removed item is located in the earlier package it stood in: its path, never the new
    // package's with the old package's line.
    let located = finding
        .location
        .as_ref()
        .and_then(|l| l.package.as_deref())
        .map_or_else(|| package.path.clone(), std::path::PathBuf::from);
    let package_path = uri(&located);
    let is_folder = !located
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("zip"));
    let Some(inner) = &finding.location else {
        let index = artifacts.index_of(&package_path, None);
        let artifact = ArtifactLocation::builder()
            .uri(package_path)
            .index(index)
            .build();
        return Location::builder()
            .physical_location(
                PhysicalLocation::builder()
                    .artifact_location(artifact)
                    .build(),
            )
            .build();
    };
    let line = i64::try_from(inner.line.max(1)).unwrap_or(1);
    if is_folder {
        let file = uri(&located.join(inner.file.as_ref()));
        let index = artifacts.index_of(&file, None);
        let physical = PhysicalLocation::builder()
            .artifact_location(ArtifactLocation::builder().uri(file).index(index).build())
            .region(Region::builder().start_line(line).build())
            .build();
        return Location::builder().physical_location(physical).build();
    }
    let zip_index = artifacts.index_of(&package_path, None);
    artifacts.index_of(
        &uri(std::path::Path::new(inner.file.as_ref())),
        Some(zip_index),
    );
    let physical = PhysicalLocation::builder()
        .artifact_location(
            ArtifactLocation::builder()
                .uri(package_path)
                .index(zip_index)
                .build(),
        )
        .properties(bag(vec![
            ("entry", json!(inner.file.as_ref())),
            ("entryLine", json!(line)),
        ]))
        .build();
    Location::builder()
        .physical_location(physical)
        .logical_locations(vec![LogicalLocation::builder()
            .fully_qualified_name(format!("{}:{line}", inner.file))
            .kind("resource")
            .build()])
        .build()
}

fn result(
    package: &Assessment,
    finding: &Finding,
    rules: &[RuleInfo],
    artifacts: &mut Artifacts,
) -> Result {
    let rule_index = rules.iter().position(|r| r.id == finding.rule).unwrap_or(0) as i64;
    let mut text = finding.message.clone();
    if let Some(inner) = &finding.location {
        text.push_str(&format!(" ({inner})"));
    }
    if let Some(hint) = &finding.hint {
        text.push_str(&format!(" Fix: {hint}"));
    }
    let properties = bag(vec![
        ("code", json!(finding.code)),
        ("package", json!(package.path.display().to_string())),
        ("solution", json!(package.unique_name)),
        ("version", json!(package.version)),
    ]);
    let builder = Result::builder()
        .rule_id(finding.rule.clone())
        .rule_index(rule_index)
        .level(level(finding.severity))
        .message(Message::builder().text(text).build())
        .locations(vec![location(package, finding, artifacts)])
        .partial_fingerprints(BTreeMap::from([(
            "solguardFinding/v1".to_owned(),
            fingerprint(package, finding),
        )]))
        .properties(properties);
    match &finding.waived {
        Some(waived) => builder
            .suppressions(vec![Suppression::builder()
                .kind(json!("external"))
                .status(json!("accepted"))
                .justification(waived.reason.clone())
                .build()])
            .build(),
        None => builder.build(),
    }
}

pub fn write_sarif(out: &mut impl Write, report: &Report) -> io::Result<()> {
    let rules = all_rules(report);
    let mut artifacts = Artifacts { list: Vec::new() };
    let mut results = Vec::new();
    for package in &report.packages {
        for finding in &package.findings {
            results.push(result(package, finding, &rules, &mut artifacts));
        }
    }
    let run_package = Assessment::unread(
        std::path::PathBuf::from("."),
        Vec::new(),
        &report.policy_set,
    );
    for finding in &report.findings {
        results.push(result(&run_package, finding, &rules, &mut artifacts));
    }
    let driver = ToolComponent::builder()
        .name("solguard")
        .version(env!("CARGO_PKG_VERSION"))
        .semantic_version(env!("CARGO_PKG_VERSION"))
        .rules(rules.iter().map(descriptor).collect::<Vec<_>>())
        .build();
    let run = Run::builder()
        .tool(Tool::builder().driver(driver).build())
        .artifacts(artifacts.list)
        .results(results)
        .properties(bag(vec![("policySet", json!(report.policy_set))]))
        .build();
    let sarif = Sarif::builder()
        .schema(SCHEMA)
        .version(json!("2.1.0"))
        .runs(vec![run])
        .build();
    serde_json::to_writer_pretty(&mut *out, &sarif)?;
    out.write_all(b"\n")
}

#[cfg(test)]
mod tests {
    use super::uri;
    use std::path::Path;

    #[test]
    fn windows_paths_become_file_uris_and_relative_paths_stay_relative() {
        assert_eq!(
            uri(Path::new(r"C:\Releases\My App_1_0.zip")),
            "file:///C:/Releases/My%20App_1_0.zip"
        );
        assert_eq!(
            uri(Path::new(r"\\fileserver\drop\a.zip")),
            "file://fileserver/drop/a.zip"
        );
        assert_eq!(uri(Path::new("releases/a#1.zip")), "releases/a%231.zip");
    }
}
