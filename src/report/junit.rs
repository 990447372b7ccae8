//! JUnit XML for policy test cases, readable by Azure DevOps `PublishTestResults` and GitHub
//! test reporters: one suite per policy, one test case per case.

use std::collections::BTreeMap;
use std::io::Write;

use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use quick_xml::Writer;

use crate::eval::CaseResult;

/// Writes `results` (and policies without cases, as skipped tests) as JUnit XML.
pub fn write_case_junit(
    out: impl Write,
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
