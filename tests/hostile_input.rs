//! The hostile-input suite: more than thirty malformed or hostile packages, built by the test
//! package builder, each through `solguard check` (one run over all of them, under a time
//! guard) and through the daemon (which must report every one and keep running). Each gives the
//! expected `package-format` finding, or reads as the harmless package it really is.

mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::daemon::Root;
use support::{Manifest, ZipBuilder};
use zip::CompressionMethod;

/// What a case must give.
enum Expect {
    /// A `package-format` finding with one of these codes.
    Refused(&'static [&'static str]),
    /// Reads; the finding code given (if any) must be among its findings.
    Reads(Option<&'static str>),
}

struct Case {
    name: &'static str,
    /// A file's bytes, or `None` for a folder case built by `tree`.
    bytes: Option<Vec<u8>>,
    tree: Option<fn(&Path)>,
    expect: Expect,
}

fn file(name: &'static str, bytes: Vec<u8>, expect: Expect) -> Case {
    Case {
        name,
        bytes: Some(bytes),
        tree: None,
        expect,
    }
}

fn with_manifest(manifest: Manifest) -> Vec<u8> {
    ZipBuilder::with_manifest(&manifest).bytes()
}

fn named(name: &str) -> Manifest {
    Manifest {
        unique_name: Some(name.into()),
        ..Manifest::default()
    }
}

fn solution_xml(xml: impl AsRef<[u8]>) -> Vec<u8> {
    ZipBuilder::solution().file("solution.xml", xml).bytes()
}

fn customizations(xml: impl AsRef<[u8]>) -> Vec<u8> {
    ZipBuilder::solution()
        .file("customizations.xml", xml)
        .bytes()
}

fn symlink_tree(dir: &Path) {
    support::write_tree(
        dir,
        &[
            ("Other/Solution.xml", named("Linked").xml()),
            ("Other/Customizations.xml", support::customizations(&[], "")),
        ],
    );
    std::fs::create_dir_all(dir.join("Entities")).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", dir.join("Entities/Outside.xml")).unwrap();
}

/// A zip of 100,000 empty entries, built once for both tests.
fn many_entries() -> Vec<u8> {
    static MANY: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    MANY.get_or_init(|| {
        let mut many = ZipBuilder::new();
        for index in 0..100_000 {
            many = many.entry(&format!("junk/{index}.txt"), b"", CompressionMethod::Stored);
        }
        many.bytes()
    })
    .clone()
}

fn cases() -> Vec<Case> {
    let whole = ZipBuilder::with_manifest(&named("Truncated")).bytes();
    let laughs = support::billion_laughs();
    let external = format!(
        "<!DOCTYPE r [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>{}",
        support::customizations(&[], "").replace("<Roles />", "<Roles>&x;</Roles>")
    );
    let deep = support::customizations(&[], "").replace(
        "<Roles />",
        &format!(
            "<Roles>{}{}</Roles>",
            "<a>".repeat(100_000),
            "</a>".repeat(100_000)
        ),
    );
    let huge_attribute = support::customizations(&[], "").replace(
        "<Roles />",
        &format!("<Roles><Role name=\"{}\"/></Roles>", "x".repeat(100 << 20)),
    );
    let mut bomb_xml = Manifest::default().xml().into_bytes();
    bomb_xml.extend(std::iter::repeat_n(b' ', 64 << 20));
    let mut invalid_utf8 = named("Latin").xml().into_bytes();
    let at = invalid_utf8.windows(5).position(|w| w == b"Latin").unwrap();
    invalid_utf8[at] = 0xFF;
    let utf16 = format!(
        "<?xml version=\"1.0\" encoding=\"utf-16\"?>\n{}",
        named("Wide").xml()
    );
    let mut utf16_bom = vec![0xFF, 0xFE];
    utf16_bom.extend(utf16.encode_utf16().flat_map(u16::to_le_bytes));
    let utf16_no_bom: Vec<u8> = utf16
        .replace("Wide", "WideNoBom")
        .encode_utf16()
        .flat_map(u16::to_be_bytes)
        .collect();
    let many = many_entries();
    let mut zip64_claim = ZipBuilder::with_manifest(&named("Claims")).bytes();
    // The central directory's uncompressed size of the first entry claims 4 GiB - 1.
    let central = zip64_claim
        .windows(4)
        .position(|w| w == b"PK\x01\x02")
        .unwrap();
    zip64_claim[central + 24..central + 28].copy_from_slice(&u32::MAX.to_le_bytes());
    vec![
        file("empty.zip", Vec::new(), Expect::Refused(&["not-a-zip"])),
        file(
            "text.zip",
            b"this is not a zip at all".to_vec(),
            Expect::Refused(&["not-a-zip"]),
        ),
        file(
            "gzip.zip",
            vec![0x1F, 0x8B, 8, 0, 0, 0, 0, 0],
            Expect::Refused(&["not-a-zip"]),
        ),
        file(
            "cut-header.zip",
            whole[..4].to_vec(),
            Expect::Refused(&["corrupt-zip"]),
        ),
        file(
            "cut-third.zip",
            whole[..whole.len() / 3].to_vec(),
            Expect::Refused(&["corrupt-zip"]),
        ),
        file(
            "cut-half.zip",
            whole[..whole.len() / 2].to_vec(),
            Expect::Refused(&["corrupt-zip"]),
        ),
        file(
            "cut-eocd.zip",
            whole[..whole.len() - 10].to_vec(),
            Expect::Refused(&["corrupt-zip"]),
        ),
        file(
            "encrypted.zip",
            support::mark_encrypted(with_manifest(named("Locked"))),
            Expect::Refused(&["encrypted-entry"]),
        ),
        file(
            "lzma.zip",
            support::set_compression_method(with_manifest(named("Lzma")), 14),
            Expect::Refused(&["unsupported-compression"]),
        ),
        file(
            "method99.zip",
            support::set_compression_method(with_manifest(named("Odd")), 99),
            Expect::Refused(&["unsupported-compression"]),
        ),
        file(
            "duplicate.zip",
            support::rename_entry(
                ZipBuilder::with_manifest(&named("Dup"))
                    .file("solutiox.xml", "<x/>")
                    .bytes(),
                "solutiox.xml",
                "solution.xml",
            ),
            Expect::Refused(&["duplicate-entry"]),
        ),
        file(
            "dotdot.zip",
            ZipBuilder::with_manifest(&named("Dots"))
                .file("../../evil.xml", "<x/>")
                .bytes(),
            Expect::Refused(&["unsafe-entry-name"]),
        ),
        file(
            "absolute.zip",
            ZipBuilder::with_manifest(&named("Abs"))
                .file("/etc/cron.d/evil", "x")
                .bytes(),
            Expect::Refused(&["unsafe-entry-name"]),
        ),
        file(
            "backslash.zip",
            ZipBuilder::with_manifest(&named("Back"))
                .file("..\\..\\evil.xml", "<x/>")
                .bytes(),
            Expect::Refused(&["unsafe-entry-name"]),
        ),
        file(
            "bomb-ratio.zip",
            solution_xml(bomb_xml),
            Expect::Refused(&["zip-bomb"]),
        ),
        file(
            "bomb-declared.zip",
            zip64_claim,
            Expect::Refused(&["zip-bomb", "corrupt-zip"]),
        ),
        file(
            "many-entries.zip",
            many,
            Expect::Refused(&["not-a-solution"]),
        ),
        file(
            "billion-laughs.zip",
            solution_xml(laughs),
            Expect::Refused(&["xml-doctype"]),
        ),
        file(
            "external-entity.zip",
            customizations(external),
            Expect::Refused(&["xml-doctype"]),
        ),
        file(
            "deep-nesting.zip",
            customizations(deep),
            Expect::Refused(&["malformed-xml"]),
        ),
        file(
            "huge-attribute.zip",
            ZipBuilder::solution()
                .entry(
                    "customizations.xml",
                    huge_attribute,
                    CompressionMethod::Deflated,
                )
                .bytes(),
            Expect::Refused(&["malformed-xml", "zip-bomb"]),
        ),
        file(
            "invalid-utf8.zip",
            solution_xml(invalid_utf8),
            Expect::Refused(&["bad-encoding"]),
        ),
        file(
            "utf16-bom.zip",
            solution_xml(utf16_bom),
            Expect::Reads(None),
        ),
        file(
            "utf16-no-bom.zip",
            solution_xml(utf16_no_bom),
            Expect::Reads(None),
        ),
        file(
            "wrong-root.zip",
            solution_xml("<Solution><UniqueName>x</UniqueName></Solution>"),
            Expect::Refused(&["invalid-manifest"]),
        ),
        file(
            "no-unique-name.zip",
            with_manifest(Manifest {
                unique_name: None,
                ..named("x")
            }),
            Expect::Refused(&["invalid-manifest"]),
        ),
        file(
            "no-version.zip",
            with_manifest(Manifest {
                version: None,
                ..named("NoVersion")
            }),
            Expect::Refused(&["invalid-manifest"]),
        ),
        file(
            "five-parts.zip",
            with_manifest(Manifest {
                version: Some("1.2.3.4.5".into()),
                ..named("Five")
            }),
            Expect::Reads(Some("invalid-version")),
        ),
        file(
            "negative.zip",
            with_manifest(Manifest {
                version: Some("-1.0".into()),
                ..named("Negative")
            }),
            Expect::Reads(Some("invalid-version")),
        ),
        file(
            "too-large.zip",
            with_manifest(Manifest {
                version: Some("99999999999.0".into()),
                ..named("Large")
            }),
            Expect::Reads(Some("invalid-version")),
        ),
        file(
            "manifest-is-a-directory.zip",
            ZipBuilder::with_manifest(&named("Dir"))
                .without("solution.xml")
                .file("solution.xml/", "")
                .bytes(),
            Expect::Refused(&["not-a-file"]),
        ),
        file(
            "no-customizations.zip",
            ZipBuilder::with_manifest(&named("NoCust"))
                .without("customizations.xml")
                .bytes(),
            Expect::Refused(&["missing-file", "not-a-solution", "invalid-manifest"]),
        ),
        file(
            "malformed-manifest.zip",
            solution_xml(
                named("Broken")
                    .xml()
                    .replacen("</Publisher>", "</Publisher", 1),
            ),
            Expect::Refused(&["malformed-xml"]),
        ),
        Case {
            name: "symlink-outside",
            bytes: None,
            tree: Some(symlink_tree),
            expect: Expect::Refused(&["symlink-escape"]),
        },
    ]
}

/// Writes every case into `dir` and returns their expectations. With `SOLGUARD_FUZZ_SEEDS` set
/// to a folder, the small file cases are also copied there as the fuzzer's seed corpus.
fn write_cases(dir: &Path) -> BTreeMap<String, Expect> {
    std::fs::create_dir_all(dir).unwrap();
    let seeds = std::env::var_os("SOLGUARD_FUZZ_SEEDS").map(std::path::PathBuf::from);
    let mut expectations = BTreeMap::new();
    for (index, case) in cases().into_iter().enumerate() {
        let name = format!("{index:02}-{}", case.name);
        let path = dir.join(&name);
        match (case.bytes, case.tree) {
            (Some(bytes), _) => {
                if let Some(seeds) = &seeds {
                    if bytes.len() < 256 << 10 {
                        std::fs::create_dir_all(seeds).unwrap();
                        std::fs::write(seeds.join(&name), &bytes).unwrap();
                    }
                }
                std::fs::write(&path, bytes).unwrap()
            }
            (None, Some(tree)) => tree(&path),
            (None, None) => unreachable!("a case is a file or a tree"),
        }
        expectations.insert(name, case.expect);
    }
    assert!(expectations.len() >= 30, "at least thirty hostile cases");
    expectations
}

fn check_expectation(name: &str, expect: &Expect, package: &Value) {
    let codes: Vec<String> = package["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            format!(
                "{}/{}",
                f["rule"].as_str().unwrap(),
                f["code"].as_str().unwrap()
            )
        })
        .collect();
    match expect {
        Expect::Refused(allowed) => {
            assert!(
                allowed
                    .iter()
                    .any(|code| codes.contains(&format!("package-format/{code}"))),
                "{name}: expected package-format/{allowed:?}, got {codes:?}"
            );
            let message = package["findings"][0]["message"].as_str().unwrap();
            assert!(
                !message.contains('\n'),
                "{name}: one-line message: {message}"
            );
            assert!(
                message.contains(name),
                "{name}: the message names the file: {message}"
            );
        }
        Expect::Reads(code) => {
            assert!(
                package["unique_name"].is_string(),
                "{name}: should read: {codes:?}"
            );
            if let Some(code) = code {
                assert!(
                    codes.iter().any(|c| c.ends_with(code)),
                    "{name}: expected {code} in {codes:?}"
                );
            }
        }
    }
}

fn file_name(path: &str) -> String {
    Path::new(path)
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

#[test]
fn every_hostile_package_is_refused_clearly_by_check_in_bounded_time() {
    let dir = tempfile::tempdir().unwrap();
    let cases_dir = dir.path().join("cases");
    let expectations = write_cases(&cases_dir);
    let out = dir.path().join("report.json");
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_solguard"))
        .args([
            "check",
            "--format",
            "json",
            "--fail-on",
            "never",
            "--output",
        ])
        .arg(&out)
        .arg(&cases_dir)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A guard against hangs, not a speed target: the whole suite takes seconds.
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > Duration::from_secs(300) {
            let _ = child.kill();
            panic!("check did not finish the hostile suite within 300 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success(), "check exits 0 with --fail-on never");
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    let packages: BTreeMap<String, &Value> = report["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (file_name(p["path"].as_str().unwrap()), p))
        .collect();
    for (name, expect) in &expectations {
        let package = packages
            .get(name)
            .unwrap_or_else(|| panic!("{name} missing from the report"));
        check_expectation(name, expect, package);
    }
}

#[test]
fn the_daemon_reports_every_hostile_package_and_keeps_running() {
    let root = Root::new(
        "incomplete_timeout_s = 1",
        "[[watch]]\npath = \"drop\"\n",
        None,
    );
    let expectations = write_cases(&root.path("staging"));
    let mut daemon = root.start();
    for name in expectations.keys() {
        std::fs::rename(
            root.path("staging").join(name),
            root.path("drop").join(name),
        )
        .unwrap();
    }
    daemon.wait_for(300, || root.reports().len() == expectations.len());
    assert!(daemon.running(), "the daemon survived the suite");
    let reports: BTreeMap<String, Value> = root
        .reports()
        .into_iter()
        .map(|(_, r)| (file_name(r["packages"][0]["path"].as_str().unwrap()), r))
        .collect();
    for (name, expect) in &expectations {
        let report = reports
            .get(name)
            .unwrap_or_else(|| panic!("{name} has no report:\n{}", daemon.log()));
        check_expectation(name, expect, &report["packages"][0]);
    }
    // Packages are never modified or deleted.
    for name in expectations.keys() {
        assert!(
            std::fs::symlink_metadata(root.path("drop").join(name)).is_ok(),
            "{name} is still there"
        );
    }
    assert!(daemon.stop().success());
}
