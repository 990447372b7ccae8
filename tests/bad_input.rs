//! Every kind of bad input named in the reader's contract gives a clear, one-line error with a
//! stable code, naming the package and the file inside it; none panics, hangs or writes to disk.

mod support;

use std::path::Path;

use solguard::package::{read_package, read_package_with, PackageError, ReadLimits};
use support::{Manifest, ZipBuilder};
use tempfile::TempDir;
use zip::CompressionMethod;

fn read_bytes(
    dir: &TempDir,
    name: &str,
    bytes: &[u8],
) -> Result<solguard::package::Package, PackageError> {
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).expect("write input");
    read_package(&path)
}

fn expect_error(dir: &TempDir, name: &str, bytes: &[u8], code: &str) -> PackageError {
    let error = read_bytes(dir, name, bytes).expect_err("bad input is refused");
    assert_eq!(error.code(), code, "{error}");
    let text = error.to_string();
    assert!(!text.contains('\n'), "one-line message: {text}");
    assert!(text.contains(name), "names the package: {text}");
    error
}

#[test]
fn not_a_zip_says_what_it_is() {
    let dir = TempDir::new().expect("tempdir");
    let error = expect_error(&dir, "empty.zip", b"", "not-a-zip");
    assert!(error.to_string().contains("empty"), "{error}");
    let error = expect_error(&dir, "solution.zip", b"<ImportExportXml/>", "not-a-zip");
    assert!(error.to_string().contains("XML file"), "{error}");
    expect_error(&dir, "random.zip", b"\x00\x01\x02\x03garbage", "not-a-zip");
}

#[test]
fn truncated_zips_are_corrupt_at_every_offset() {
    let dir = TempDir::new().expect("tempdir");
    let bytes = ZipBuilder::solution().bytes();
    for cut in [
        4,
        30,
        bytes.len() / 3,
        bytes.len() / 2,
        bytes.len() - 30,
        bytes.len() - 1,
    ] {
        let error = read_bytes(&dir, "cut.zip", &bytes[..cut]).expect_err("truncated");
        assert!(
            matches!(error.code(), "corrupt-zip" | "malformed-xml"),
            "cut at {cut}: {error}"
        );
    }
}

#[test]
fn zips_without_a_manifest_say_what_they_look_like() {
    let dir = TempDir::new().expect("tempdir");
    let data = ZipBuilder::new()
        .file("data.xml", "<entities/>")
        .file("data_schema.xml", "<entities/>")
        .file("[Content_Types].xml", support::CONTENT_TYPES)
        .bytes();
    let error = expect_error(&dir, "ConfigData.zip", &data, "not-a-solution");
    assert!(
        error.to_string().contains("Configuration Migration"),
        "{error}"
    );

    let deployer = ZipBuilder::new()
        .file("PkgAssets/ImportConfig.xml", "<configdatastorage/>")
        .file("PkgAssets/Core_managed.zip", "PK")
        .file("Contoso.Package.dll", "MZ")
        .bytes();
    let error = expect_error(&dir, "deploy.zip", &deployer, "not-a-solution");
    assert!(error.to_string().contains("Package Deployer"), "{error}");

    let canvas = ZipBuilder::new()
        .file("manifest.json", "{}")
        .file("Microsoft.PowerApps/apps/1/app.msapp", "x")
        .bytes();
    let error = expect_error(&dir, "app.zip", &canvas, "not-a-solution");
    assert!(error.to_string().contains("legacy canvas app"), "{error}");

    let bundle = ZipBuilder::new()
        .file("Core_managed.zip", ZipBuilder::solution().bytes())
        .file("Audit_managed.zip", ZipBuilder::solution().bytes())
        .bytes();
    let error = expect_error(&dir, "bundle.zip", &bundle, "not-a-solution");
    assert!(error.to_string().contains("Core_managed.zip"), "{error}");

    let source = ZipBuilder::new()
        .file("Other/Solution.xml", Manifest::default().xml())
        .bytes();
    let error = expect_error(&dir, "src.zip", &source, "not-a-solution");
    assert!(error.to_string().contains("pac solution pack"), "{error}");

    let other = ZipBuilder::new().file("readme.txt", "hi").bytes();
    let error = expect_error(&dir, "other.zip", &other, "not-a-solution");
    assert!(error.to_string().contains("readme.txt"), "{error}");
}

#[test]
fn missing_customizations_is_an_error_and_missing_content_types_a_warning() {
    let dir = TempDir::new().expect("tempdir");
    let bytes = ZipBuilder::solution().without("customizations.xml").bytes();
    let error = expect_error(&dir, "nocust.zip", &bytes, "missing-file");
    assert!(error.to_string().contains("customizations.xml"), "{error}");

    let bytes = ZipBuilder::solution()
        .without("[Content_Types].xml")
        .bytes();
    let package = read_bytes(&dir, "notypes.zip", &bytes).expect("still readable");
    assert!(package
        .warnings
        .iter()
        .any(|w| w.code == "missing-content-types"));
}

#[test]
fn solution_one_folder_deep_is_read_but_flagged() {
    let dir = TempDir::new().expect("tempdir");
    let inner = ZipBuilder::solution();
    let mut nested = ZipBuilder::new();
    for name in ["solution.xml", "customizations.xml", "[Content_Types].xml"] {
        let content = match name {
            "solution.xml" => Manifest::default().xml(),
            "customizations.xml" => support::customizations(&[], ""),
            _ => support::CONTENT_TYPES.to_owned(),
        };
        nested = nested.file(&format!("azure-http-key-vault/{name}"), content);
    }
    drop(inner);
    let package = read_bytes(&dir, "nested.zip", &nested.bytes()).expect("nested is read");
    assert_eq!(package.unique_name, "ContosoCore");
    assert_eq!(package.source.root, "azure-http-key-vault");
    assert_eq!(&*package.location.file, "azure-http-key-vault/solution.xml");
    let warning = package
        .warnings
        .iter()
        .find(|w| w.code == "solution-not-at-root")
        .expect("flagged");
    assert!(
        warning.message.contains("Dataverse rejects"),
        "{}",
        warning.message
    );
}

#[test]
fn hostile_entry_names_are_refused_and_nothing_is_written() {
    let dir = TempDir::new().expect("tempdir");
    for name in [
        "../evil.xml",
        "WebResources/../../evil.js",
        "/etc/cron.d/evil",
        "C:/evil.dll",
        "a\\..\\..\\evil",
    ] {
        let bytes = ZipBuilder::solution().file(name, "pwned").bytes();
        let error = expect_error(&dir, "hostile.zip", &bytes, "unsafe-entry-name");
        assert!(error.to_string().contains("evil"), "{error}");
    }
    let written: Vec<_> = std::fs::read_dir(dir.path()).expect("list").collect();
    assert_eq!(written.len(), 1, "only the input zip exists");
    assert!(!dir.path().join("../evil.xml").exists());
}

#[test]
fn duplicate_entry_names_are_refused() {
    let dir = TempDir::new().expect("tempdir");
    let bytes = ZipBuilder::solution()
        .file("solutioN.xml", Manifest::default().xml())
        .bytes();
    let bytes = support::rename_entry(bytes, "solutioN.xml", "solution.xml");
    let error = expect_error(&dir, "dup.zip", &bytes, "duplicate-entry");
    assert!(error.to_string().contains("more than once"), "{error}");
}

#[test]
fn encrypted_and_unsupported_compression_entries_are_refused() {
    let dir = TempDir::new().expect("tempdir");
    let encrypted = support::mark_encrypted(ZipBuilder::solution().bytes());
    let error = expect_error(&dir, "locked.zip", &encrypted, "encrypted-entry");
    assert!(error.to_string().contains("solution.xml"), "{error}");

    let lzma = support::set_compression_method(ZipBuilder::solution().bytes(), 14);
    let error = expect_error(&dir, "lzma.zip", &lzma, "unsupported-compression");
    assert!(error.to_string().contains("Deflate"), "{error}");
}

#[test]
fn zip_bombs_are_stopped_by_ratio_and_by_size() {
    let dir = TempDir::new().expect("tempdir");
    // 64 MiB of one repeated byte deflates about 1000:1.
    let padding = vec![b' '; 64 << 20];
    let mut bomb_xml = Manifest::default().xml().into_bytes();
    bomb_xml.extend_from_slice(&padding);
    let bomb = ZipBuilder::solution()
        .file("solution.xml", &bomb_xml)
        .bytes();
    assert!(
        bomb.len() < 1 << 20,
        "the bomb is small on disk: {}",
        bomb.len()
    );
    let error = expect_error(&dir, "bomb.zip", &bomb, "zip-bomb");
    assert!(error.to_string().contains(":1"), "ratio named: {error}");

    // Realistic content past a lowered size limit: the declared size is checked first, and
    // the inflated byte count is enforced while reading.
    let limits = ReadLimits {
        max_entry_bytes: 4096,
        ..ReadLimits::default()
    };
    let path = dir.path().join("big.zip");
    let entities: Vec<String> = (0..50)
        .map(|i| {
            support::entity(
                &format!("con_table{i}"),
                &[support::attribute("con_name", "nvarchar", true)],
            )
        })
        .collect();
    std::fs::write(
        &path,
        ZipBuilder::solution()
            .file("customizations.xml", support::customizations(&entities, ""))
            .bytes(),
    )
    .expect("write");
    let error = read_package_with(&path, &limits).expect_err("too large");
    assert_eq!(error.code(), "zip-bomb", "{error}");
    assert_eq!(error.file(), Some("customizations.xml"));

    let total = ReadLimits {
        max_total_bytes: 3000,
        ..ReadLimits::default()
    };
    let error = read_package_with(&path, &total).expect_err("total too large");
    assert_eq!(error.code(), "zip-bomb", "{error}");
    assert!(error.to_string().contains("in total"), "{error}");
}

#[test]
fn malformed_xml_names_file_line_and_column() {
    let dir = TempDir::new().expect("tempdir");
    let broken = Manifest::default()
        .xml()
        .replacen("</Publisher>", "</Publisher", 1);
    let bytes = ZipBuilder::solution().file("solution.xml", broken).bytes();
    let error = expect_error(&dir, "broken.zip", &bytes, "malformed-xml");
    assert_eq!(error.file(), Some("solution.xml"));
    assert!(error.line().is_some_and(|line| line > 5), "{error}");
    assert!(error.column().is_some(), "{error}");
    assert!(
        error.to_string().contains("broken.zip: solution.xml:"),
        "{error}"
    );

    let mismatched = support::customizations(&[], "").replace("</Entities>", "</Entitys>");
    let bytes = ZipBuilder::solution()
        .file("customizations.xml", mismatched)
        .bytes();
    let error = expect_error(&dir, "mismatch.zip", &bytes, "malformed-xml");
    assert_eq!(error.file(), Some("customizations.xml"));
}

#[test]
fn doctype_and_entity_bombs_are_refused_unexpanded() {
    let dir = TempDir::new().expect("tempdir");
    let laughs = support::billion_laughs();
    let bytes = ZipBuilder::solution().file("solution.xml", laughs).bytes();
    let error = expect_error(&dir, "laughs.zip", &bytes, "xml-doctype");
    assert_eq!(error.line(), Some(2), "{error}");

    let external = format!(
        "<!DOCTYPE r [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>{}",
        support::customizations(&[], "").replace("<Roles />", "<Roles>&x;</Roles>")
    );
    let bytes = ZipBuilder::solution()
        .file("customizations.xml", external)
        .bytes();
    expect_error(&dir, "xxe.zip", &bytes, "xml-doctype");
}

#[test]
fn deep_nesting_and_huge_attributes_are_bounded() {
    let dir = TempDir::new().expect("tempdir");
    let deep = format!("{}{}", "<a>".repeat(100_000), "</a>".repeat(100_000));
    let cust =
        support::customizations(&[], "").replace("<Roles />", &format!("<Roles>{deep}</Roles>"));
    let bytes = ZipBuilder::solution()
        .file("customizations.xml", cust)
        .bytes();
    let error = expect_error(&dir, "deep.zip", &bytes, "malformed-xml");
    assert!(error.to_string().contains("deeper than"), "{error}");

    let huge = format!("<Roles><Role name=\"{}\"/></Roles>", "x".repeat(40 << 20));
    let cust = support::customizations(&[], "").replace("<Roles />", &huge);
    let bytes = ZipBuilder::solution()
        .entry("customizations.xml", cust, CompressionMethod::Stored)
        .bytes();
    let error = expect_error(&dir, "huge.zip", &bytes, "malformed-xml");
    assert!(error.to_string().contains("larger than"), "{error}");
}

#[test]
fn encodings_utf8_with_and_without_bom_and_utf16_all_read() {
    let dir = TempDir::new().expect("tempdir");
    let xml = Manifest::default()
        .xml()
        .replace("Contoso Core", "Contoso Zürich");
    let declared = format!("<?xml version=\"1.0\" encoding=\"utf-8\"?>\r\n{xml}");
    let mut with_bom = vec![0xEF, 0xBB, 0xBF];
    with_bom.extend_from_slice(declared.as_bytes());
    let utf16 = format!("<?xml version=\"1.0\" encoding=\"utf-16\"?>\n{xml}");
    let mut utf16_le = vec![0xFF, 0xFE];
    utf16_le.extend(utf16.encode_utf16().flat_map(u16::to_le_bytes));
    let mut utf16_be = vec![0xFE, 0xFF];
    utf16_be.extend(utf16.encode_utf16().flat_map(u16::to_be_bytes));
    let utf16_le_no_bom: Vec<u8> = utf16.encode_utf16().flat_map(u16::to_le_bytes).collect();
    let variants: [(&str, Vec<u8>); 6] = [
        ("plain", xml.clone().into_bytes()),
        ("declared", declared.into_bytes()),
        ("bom", with_bom),
        ("utf16le", utf16_le),
        ("utf16be", utf16_be),
        ("utf16le-nobom", utf16_le_no_bom),
    ];
    for (name, bytes) in variants {
        let zip = ZipBuilder::solution().file("solution.xml", bytes).bytes();
        let package = read_bytes(&dir, &format!("{name}.zip"), &zip)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            package.display_name.as_deref(),
            Some("Contoso Zürich"),
            "{name}"
        );
        assert_eq!(package.unique_name, "ContosoCore", "{name}");
    }
}

#[test]
fn invalid_utf8_and_unknown_encodings_are_encoding_errors() {
    let dir = TempDir::new().expect("tempdir");
    let mut bytes = Manifest::default().xml().into_bytes();
    let at = bytes
        .windows(11)
        .position(|w| w == b"ContosoCore")
        .expect("name");
    bytes[at] = 0xFF;
    let zip = ZipBuilder::solution().file("solution.xml", bytes).bytes();
    let error = expect_error(&dir, "latin.zip", &zip, "bad-encoding");
    assert_eq!(error.line(), Some(3), "{error}");

    let unknown = format!(
        "<?xml version=\"1.0\" encoding=\"klingon\"?>{}",
        Manifest::default().xml()
    );
    let zip = ZipBuilder::solution().file("solution.xml", unknown).bytes();
    let error = expect_error(&dir, "klingon.zip", &zip, "bad-encoding");
    assert!(error.to_string().contains("klingon"), "{error}");
}

#[test]
fn unknown_elements_are_ignored() {
    let dir = TempDir::new().expect("tempdir");
    let manifest = Manifest {
        extra: "<FutureThing a=\"1\"><Nested><Deeper/></Nested>text</FutureThing><RootComponents><RootComponent type=\"1\" schemaName=\"con_project\" behavior=\"0\" /><Surprise/></RootComponents><MissingDependencies />".into(),
        ..Manifest::default()
    };
    let cust = support::customizations(
        &[],
        "<msdyn_FutureSet><msdyn_Item/><msdyn_Item/></msdyn_FutureSet>",
    );
    let zip = ZipBuilder::with_manifest(&manifest)
        .file("customizations.xml", cust)
        .bytes();
    let package = read_bytes(&dir, "future.zip", &zip).expect("unknown elements are fine");
    assert_eq!(package.root_components.len(), 1);
    assert_eq!(package.components.get("msdyn_future_set"), Some(&2));
}

#[test]
fn missing_required_manifest_fields_are_named() {
    let dir = TempDir::new().expect("tempdir");
    let cases = [
        (
            Manifest {
                unique_name: None,
                ..Manifest::default()
            },
            "<UniqueName>",
        ),
        (
            Manifest {
                version: None,
                ..Manifest::default()
            },
            "<Version>",
        ),
        (
            Manifest {
                managed: None,
                ..Manifest::default()
            },
            "<Managed>",
        ),
        (
            Manifest {
                managed: Some("7".into()),
                ..Manifest::default()
            },
            "expected 0 (unmanaged)",
        ),
    ];
    for (manifest, needle) in cases {
        let zip = ZipBuilder::with_manifest(&manifest).bytes();
        let error = expect_error(&dir, "incomplete.zip", &zip, "invalid-manifest");
        assert!(error.to_string().contains(needle), "{needle}: {error}");
        assert_eq!(error.file(), Some("solution.xml"));
    }
    let wrong_root = ZipBuilder::solution()
        .file(
            "solution.xml",
            "<Solution><UniqueName>x</UniqueName></Solution>",
        )
        .bytes();
    let error = expect_error(&dir, "root.zip", &wrong_root, "invalid-manifest");
    assert!(
        error.to_string().contains("expected <ImportExportXml>"),
        "{error}"
    );
}

#[test]
fn invalid_versions_are_kept_and_reported_not_fatal() {
    let dir = TempDir::new().expect("tempdir");
    for version in ["1.2.3.4.5", "-1.0", "99999999999.0", "1.0-beta"] {
        let manifest = Manifest {
            version: Some(version.into()),
            ..Manifest::default()
        };
        let zip = ZipBuilder::with_manifest(&manifest).bytes();
        let package = read_bytes(&dir, "v.zip", &zip).expect("readable");
        assert_eq!(package.version, version);
        assert!(package.solution_version.is_none(), "{version}");
        assert!(package.version_error.is_some(), "{version}");
        assert!(
            package.warnings.iter().any(|w| w.code == "invalid-version"),
            "{version}"
        );
    }
}

#[test]
fn solution_xml_that_is_a_directory_is_refused() {
    let dir = TempDir::new().expect("tempdir");
    let zip = ZipBuilder::solution()
        .without("solution.xml")
        .file("solution.xml/", "")
        .bytes();
    let error = expect_error(&dir, "dir.zip", &zip, "not-a-file");
    assert!(error.to_string().contains("solution.xml"), "{error}");

    let folder = dir.path().join("export");
    std::fs::create_dir_all(folder.join("solution.xml")).expect("dir");
    std::fs::write(
        folder.join("customizations.xml"),
        support::customizations(&[], ""),
    )
    .expect("write");
    let error = read_package(&folder).expect_err("directory manifest");
    assert_eq!(error.code(), "not-a-file", "{error}");
}

#[test]
fn missing_path_is_not_found() {
    let error = read_package(Path::new("/nonexistent/solguard/pkg.zip")).expect_err("missing");
    assert_eq!(error.code(), "not-found");
}

/// A customizations.xml of about 6 MiB: large enough to be inflated on its own thread.
fn large_solution(method: CompressionMethod) -> (ZipBuilder, usize) {
    let entities: Vec<String> = (0..200)
        .map(|e| {
            let attributes: Vec<String> = (0..80)
                .map(|a| support::attribute(&format!("con_e{e}a{a}"), "nvarchar", true))
                .collect();
            support::entity(&format!("con_entity{e}"), &attributes)
        })
        .collect();
    let xml = support::customizations(&entities, "");
    assert!(xml.len() > 5 << 20, "{} bytes", xml.len());
    let builder = ZipBuilder::solution().entry("customizations.xml", &xml, method);
    (builder, xml.len())
}

#[test]
fn large_entries_read_whole_and_fail_where_they_fail() {
    let dir = TempDir::new().expect("tempdir");
    let (builder, xml_len) = large_solution(CompressionMethod::Deflated);
    let package = read_bytes(&dir, "large.zip", &builder.bytes()).expect("reads");
    assert_eq!(package.entities.len(), 200);
    let columns: usize = package.entities.iter().map(|e| e.attributes.len()).sum();
    assert_eq!(columns, 200 * 80);
    let last = &package.entities[199].attributes[79];
    assert_eq!(last.name, "con_e199a79");

    // The total guard trips on the inflating thread, mid-entry.
    let path = dir.path().join("large.zip");
    let limits = ReadLimits {
        max_total_bytes: (xml_len / 2) as u64,
        ..ReadLimits::default()
    };
    let error = read_package_with(&path, &limits).expect_err("over the total");
    assert_eq!(error.code(), "zip-bomb", "{error}");
    assert!(error.to_string().contains("customizations.xml"), "{error}");

    // A flipped byte in stored data reads to the end and fails its checksum.
    let (stored, _) = large_solution(CompressionMethod::Stored);
    let mut bytes = stored.bytes();
    let at = bytes
        .windows(12)
        .rposition(|w| w == b"con_e150a30<")
        .expect("a column name in the stored entry");
    bytes[at + 4] = b'X';
    let error = expect_error(&dir, "flipped.zip", &bytes, "corrupt-zip");
    assert!(error.to_string().contains("customizations.xml"), "{error}");
}

/// Found by the `read_zip` fuzz target: an entry that inflates past its declared size failed
/// with a line and column in one read and without them in the other, or as a wrong root in
/// one and a corrupt zip in the other, depending on whether it was inflated on the background
/// thread (with other read sizes).
#[test]
fn background_threads_change_nothing_in_results_or_errors() {
    let dir = TempDir::new().expect("tempdir");
    let threaded = ReadLimits {
        background_inflate_bytes: 0,
        background_hash_bytes: 0,
        ..ReadLimits::default()
    };
    let single = ReadLimits {
        background_inflate_bytes: u64::MAX,
        background_hash_bytes: u64::MAX,
        ..ReadLimits::default()
    };
    let good = ZipBuilder::solution().bytes();
    // Past the 256 bytes sniffed for the encoding, short of the whole manifest.
    let oversized = support::set_declared_size(good.clone(), "solution.xml", 600);
    let wrong_root = Manifest::default()
        .xml()
        .replace("ImportExportXml", "ImportExport");
    let oversized_wrong_root = support::set_declared_size(
        ZipBuilder::solution()
            .file("solution.xml", wrong_root)
            .bytes(),
        "solution.xml",
        600,
    );
    let cases = [
        ("good.zip", good),
        ("oversized.zip", oversized),
        ("oversized-wrong-root.zip", oversized_wrong_root),
    ];
    for (name, bytes) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).expect("write zip");
        let with_threads = read_package_with(&path, &threaded);
        let alone = read_package_with(&path, &single);
        match (with_threads, alone) {
            (Ok(a), Ok(b)) => assert_eq!(
                serde_json::to_value(&a).expect("as JSON"),
                serde_json::to_value(&b).expect("as JSON"),
                "{name}"
            ),
            (Err(a), Err(b)) => {
                assert_eq!(a.to_string(), b.to_string(), "{name}");
                assert_eq!(a.code(), "corrupt-zip", "{name}: {a}");
                assert!(a.to_string().contains("solution.xml"), "{a}");
            }
            (a, b) => panic!("{name}: {:?} against {:?}", a.is_ok(), b.is_ok()),
        }
    }
}

#[test]
fn an_entry_name_holding_control_characters_stays_on_one_line_in_the_error() {
    // Found by the read_zip fuzz target: an entry name with a newline (and an escape) was shown
    // raw in the error, which then ran over two lines (and could forge a CI annotation).
    let dir = TempDir::new().expect("tempdir");
    let name = "environmentvariabledefinitions/new\n::error::forged\u{1b}[2J/environmentvariabledefinition.xml";
    let bytes = ZipBuilder::solution()
        .file(name, "<environmentvariabledefinition")
        .bytes();
    let error = expect_error(&dir, "named.zip", &bytes, "malformed-xml");
    let text = error.to_string();
    assert!(
        text.contains("new\\u{a}::error::forged\\u{1b}[2J/environmentvariabledefinition.xml"),
        "the name is shown with its controls visible: {text}"
    );
}
