//! Reads every real package in `../shared/corpus` and asserts the facts that
//! `corpus/MANIFEST.md` lists for it: identity, version, managed state, publisher, export
//! attributes, counts, entity lists, and what changed between consecutive versions.
//! The facts are parsed from MANIFEST.md itself, so every row is checked.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use solguard::package::{read_package, ManagedState, Package, ReadAhead, ReadLimits, SourceKind};

fn manifest_text(corpus: &Path) -> String {
    std::fs::read_to_string(corpus.join("MANIFEST.md")).expect("read MANIFEST.md")
}

/// Table rows of MANIFEST.md with `columns` cells, cells trimmed and unquoted.
fn table_rows(text: &str, columns: usize) -> Vec<Vec<String>> {
    text.lines()
        .filter(|line| line.starts_with("| `"))
        .map(|line| {
            line.trim()
                .trim_matches('|')
                .split(" | ")
                .map(|cell| cell.trim().trim_matches('`').to_owned())
                .collect::<Vec<_>>()
        })
        .filter(|cells| cells.len() == columns)
        .collect()
}

fn managed_from_digit(digit: &str) -> ManagedState {
    match digit {
        "0" => ManagedState::Unmanaged,
        "1" => ManagedState::Managed,
        "2" => ManagedState::Both,
        other => panic!("unexpected Managed column {other:?}"),
    }
}

fn assert_publisher(package: &Package, column: &str, file: &str) {
    let parts: Vec<&str> = column.split(" / ").collect();
    assert_eq!(parts.len(), 3, "{file}: publisher column {column:?}");
    let publisher = &package.publisher;
    assert_eq!(publisher.unique_name, parts[0], "{file}: publisher");
    assert_eq!(
        publisher.customization_prefix.as_deref(),
        Some(parts[1]),
        "{file}: prefix"
    );
    assert_eq!(
        publisher
            .option_value_prefix
            .map(|p| p.to_string())
            .as_deref(),
        Some(parts[2]),
        "{file}: option value prefix"
    );
}

#[test]
fn every_corpus_zip_matches_its_manifest_row() {
    let corpus = support::corpus();
    let rows = table_rows(&manifest_text(&corpus), 18);
    assert!(
        rows.len() >= 35,
        "expected the zip table, found {} rows",
        rows.len()
    );
    let mut checked = BTreeSet::new();
    for row in &rows {
        let file = &row[0];
        let path = corpus.join(file);
        checked.insert(path.clone());
        if row[5] == "-" {
            let error = read_package(&path).expect_err("not a solution");
            assert_eq!(error.code(), "not-a-solution", "{file}: {error}");
            assert!(
                error.to_string().contains("Configuration Migration"),
                "{file}: {error}"
            );
            continue;
        }
        let package = read_package(&path).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(package.source.kind, SourceKind::Zip, "{file}");
        assert_eq!(package.unique_name, row[5], "{file}: UniqueName");
        assert_eq!(package.version, row[6], "{file}: Version");
        assert!(package.solution_version.is_some(), "{file}: version parses");
        assert_eq!(
            package.managed,
            managed_from_digit(&row[7]),
            "{file}: Managed"
        );
        assert_publisher(&package, &row[8], file);
        let export = &package.export;
        assert_eq!(
            export.version.as_deref(),
            Some(row[9].as_str()),
            "{file}: IE version"
        );
        match row[10].strip_prefix("- (minimumversion=") {
            Some(minimum) => {
                assert_eq!(export.solution_package_version, None, "{file}: SPV absent");
                assert_eq!(
                    export.minimum_version.as_deref(),
                    Some(minimum.trim_end_matches(')')),
                    "{file}: minimumversion"
                );
            }
            None => assert_eq!(
                export.solution_package_version.as_deref(),
                Some(row[10].as_str()),
                "{file}: SolutionPackageVersion"
            ),
        }
        assert_eq!(
            export.generated_by.as_deref(),
            Some(row[11].as_str()),
            "{file}"
        );
        assert_eq!(
            package.entities.len().to_string(),
            row[13],
            "{file}: entities"
        );
        assert_eq!(
            package.root_components.len().to_string(),
            row[14],
            "{file}: RC"
        );
        assert_eq!(
            package.missing_dependencies.len().to_string(),
            row[15],
            "{file}: MD"
        );
        assert_eq!(
            package.source.size_bytes.map(|s| s.to_string()).as_deref(),
            Some(row[16].as_str()),
            "{file}: zip bytes"
        );
        let sha = package
            .source
            .sha256
            .as_deref()
            .expect("zips have a sha256");
        assert_eq!(sha.len(), 64, "{file}: sha256 is hex");
        assert_locations_point_into_the_package(&package, file);
    }
    let on_disk: BTreeSet<PathBuf> = support::walk_zips(&corpus);
    assert_eq!(
        checked, on_disk,
        "every corpus zip has a MANIFEST row and is checked"
    );
}

fn assert_locations_point_into_the_package(package: &Package, file: &str) {
    assert_eq!(&*package.location.file, "solution.xml", "{file}");
    for component in &package.root_components {
        assert_eq!(&*component.location.file, "solution.xml", "{file}");
        assert!(component.location.line > 1, "{file}: root component line");
    }
    for entity in &package.entities {
        assert_eq!(&*entity.location.file, "customizations.xml", "{file}");
        assert!(entity.location.line >= 1);
        for attribute in &entity.attributes {
            assert!(
                attribute.location.line > entity.location.line,
                "{file}: attribute after entity"
            );
        }
    }
}

#[test]
fn every_unpacked_tree_matches_its_manifest_row() {
    let corpus = support::corpus();
    let rows = table_rows(&manifest_text(&corpus), 13);
    assert_eq!(rows.len(), 5, "unpacked table rows");
    for row in &rows {
        let dir = &row[0];
        let package = read_package(&corpus.join(dir)).unwrap_or_else(|e| panic!("{dir}: {e}"));
        assert_eq!(package.source.kind, SourceKind::Folder, "{dir}");
        assert_eq!(package.source.sha256, None, "{dir}: folders have no sha256");
        assert_eq!(package.unique_name, row[5], "{dir}");
        assert_eq!(package.version, row[6], "{dir}");
        assert_eq!(package.managed, managed_from_digit(&row[7]), "{dir}");
        assert_publisher(&package, &row[8], dir);
        let attributes = xml_attributes(&row[9]);
        let export = &package.export;
        assert_eq!(export.version.as_ref(), attributes.get("version"), "{dir}");
        assert_eq!(
            export.solution_package_version.as_ref(),
            attributes.get("SolutionPackageVersion"),
            "{dir}"
        );
        assert_eq!(
            export.generated_by.as_ref(),
            attributes.get("generatedBy"),
            "{dir}"
        );
        assert_eq!(
            export.organization_version.as_ref(),
            attributes.get("OrganizationVersion"),
            "{dir}"
        );
        let expected: BTreeSet<String> = row[12]
            .split(", ")
            .filter(|name| !name.is_empty())
            .map(str::to_ascii_lowercase)
            .collect();
        let found: BTreeSet<String> = package.entities.iter().map(|e| e.name.clone()).collect();
        assert_eq!(found, expected, "{dir}: entities");
        for entity in &package.entities {
            assert!(
                entity.location.file.starts_with("Entities/")
                    && entity.location.file.ends_with("/Entity.xml"),
                "{dir}: entity read from {}",
                entity.location.file
            );
        }
        assert_eq!(&*package.location.file, "Other/Solution.xml", "{dir}");
    }
}

fn xml_attributes(tag: &str) -> BTreeMap<String, String> {
    tag.split("\" ")
        .filter_map(|pair| {
            let (key, value) = pair.split_once("=\"")?;
            let key = key.rsplit(' ').next()?.to_owned();
            Some((
                key,
                value
                    .trim_end_matches("\">")
                    .trim_end_matches('"')
                    .to_owned(),
            ))
        })
        .collect()
}

/// Quoted names in a Python-style list: `['a', 'b']`.
fn quoted(list: &str) -> BTreeSet<String> {
    list.split('\'')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

fn attribute_names(package: &Package, entity: &str) -> BTreeSet<String> {
    package
        .entity(entity)
        .unwrap_or_else(|| panic!("{} has entity {entity}", package.unique_name))
        .attributes
        .iter()
        .map(|a| a.name.to_string())
        .collect()
}

fn entity_names(package: &Package) -> BTreeSet<String> {
    package.entities.iter().map(|e| e.name.clone()).collect()
}

#[test]
fn consecutive_versions_differ_as_the_manifest_says() {
    let corpus = support::corpus();
    let text = manifest_text(&corpus);
    let mut pairs = 0;
    let mut checks: BTreeMap<&str, usize> = BTreeMap::new();
    for block in text.split("\n### ").skip(1) {
        let header = block.lines().next().expect("pair header");
        let files: Vec<&str> = header.split('`').skip(1).step_by(2).collect();
        assert_eq!(files.len(), 2, "pair header {header:?}");
        let old_path = corpus.join(files[0]);
        let new_path = if files[1].contains('/') {
            corpus.join(files[1])
        } else {
            old_path.parent().expect("parent").join(files[1])
        };
        let old = read_package(&old_path).unwrap_or_else(|e| panic!("{e}"));
        let new = read_package(&new_path).unwrap_or_else(|e| panic!("{e}"));
        pairs += 1;
        for line in block.lines().map(str::trim) {
            if let Some(rest) = line.strip_prefix("entities removed: ") {
                let (removed, added) = rest.split_once("added:").expect("added list");
                let old_names = entity_names(&old);
                let new_names = entity_names(&new);
                let removed_found: BTreeSet<String> =
                    old_names.difference(&new_names).cloned().collect();
                let added_found: BTreeSet<String> =
                    new_names.difference(&old_names).cloned().collect();
                assert_eq!(removed_found, quoted(removed), "{header}: entities removed");
                assert_eq!(added_found, quoted(added), "{header}: entities added");
                *checks.entry("entities").or_default() += 1;
            } else if let Some((entity, rest)) = line.split_once(": attrs removed ") {
                let removed_expected = quoted(rest.split(" added").next().unwrap_or(rest));
                let old_attrs = attribute_names(&old, entity);
                let new_attrs = attribute_names(&new, entity);
                let removed: BTreeSet<String> = old_attrs.difference(&new_attrs).cloned().collect();
                assert_eq!(
                    removed, removed_expected,
                    "{header}: {entity} attributes removed"
                );
                assert!(!removed.is_empty(), "{header}: {entity} lost attributes");
                *checks.entry("attributes removed").or_default() += 1;
                let added = new_attrs.difference(&old_attrs).count();
                if let Some(count) = rest.split("(+").nth(1).and_then(|r| r.split(' ').next()) {
                    assert_eq!(
                        added.to_string(),
                        count,
                        "{header}: {entity} attributes added"
                    );
                } else if let Some(list) = rest.split("added ").nth(1) {
                    assert_eq!(
                        added,
                        quoted(list).len(),
                        "{header}: {entity} attributes added"
                    );
                }
            } else if let Some((entity, rest)) = line
                .split_once(": ")
                .filter(|(_, r)| r.ends_with("attrs added"))
            {
                let count = rest.split(' ').next().expect("count");
                let added = attribute_names(&new, entity)
                    .difference(&attribute_names(&old, entity))
                    .count();
                assert_eq!(
                    added.to_string(),
                    count,
                    "{header}: {entity} attributes added"
                );
                *checks.entry("attributes added").or_default() += 1;
            } else if let Some(rest) = line.strip_prefix("rootcomponents removed: ") {
                let count = rest.rsplit("n= ").next().expect("n=");
                assert_eq!(
                    root_component_diff(&old, &new).to_string(),
                    count,
                    "{header}: RC removed"
                );
            } else if let Some(rest) = line.strip_prefix("rootcomponents added: ") {
                let count = rest.rsplit("n= ").next().expect("n=");
                assert_eq!(
                    root_component_diff(&new, &old).to_string(),
                    count,
                    "{header}: RC added"
                );
                *checks.entry("root components").or_default() += 1;
            } else if let Some(rest) = line.strip_prefix("global optionsets removed: ") {
                let (removed, added) = rest.split_once("added:").expect("added list");
                let old_sets = global_sets(&old);
                let new_sets = global_sets(&new);
                assert_eq!(
                    old_sets
                        .difference(&new_sets)
                        .cloned()
                        .collect::<BTreeSet<_>>(),
                    quoted(removed),
                    "{header}"
                );
                assert_eq!(
                    new_sets
                        .difference(&old_sets)
                        .cloned()
                        .collect::<BTreeSet<_>>(),
                    quoted(added),
                    "{header}"
                );
                *checks.entry("option sets").or_default() += 1;
            } else if line.contains("publisher changed")
                || line.contains(": publisher changed in source history")
            {
                assert_ne!(
                    old.publisher.unique_name, new.publisher.unique_name,
                    "{header}"
                );
                *checks.entry("publisher").or_default() += 1;
            }
        }
    }
    assert!(
        pairs >= 17,
        "expected the consecutive-version pairs, found {pairs}"
    );
    // Every kind of fact in the pair blocks was recognised and checked.
    let expected = [
        ("entities", 16),
        ("attributes removed", 4),
        ("attributes added", 1),
        ("root components", 15),
        ("option sets", 15),
        ("publisher", 1),
    ];
    for (kind, at_least) in expected {
        let done = checks.get(kind).copied().unwrap_or(0);
        assert!(
            done >= at_least,
            "{kind}: {done} checks, expected at least {at_least}"
        );
    }
}

fn root_component_diff(from: &Package, to: &Package) -> usize {
    let key = |c: &solguard::package::RootComponent| {
        (
            c.kind.clone(),
            c.schema_name
                .clone()
                .or(c.id.clone())
                .unwrap_or_default()
                .to_ascii_lowercase(),
        )
    };
    let to_keys: BTreeSet<_> = to.root_components.iter().map(key).collect();
    from.root_components
        .iter()
        .filter(|c| !to_keys.contains(&key(c)))
        .count()
}

fn global_sets(package: &Package) -> BTreeSet<String> {
    package
        .option_sets
        .iter()
        .filter(|s| s.global)
        .map(|s| s.name.clone())
        .collect()
}

#[test]
fn shells_unmodified_and_string_types_are_modelled() {
    let corpus = support::corpus();
    let contoso =
        read_package(&corpus.join("PowerApps-Samples/Contoso_sample_1_0_0_1_managed.zip"))
            .expect("reads");
    let account = contoso.entity("account").expect("account entity");
    assert!(account.shell, "behavior=2 entity is exported as a shell");
    assert!(account.attributes.is_empty());
    assert_eq!(contoso.root_components[0].behavior, Some(2));

    let masking = read_package(
        &corpus.join("PowerApps-Samples/ColumnLevelSecuritySampleSolution_managed.zip"),
    )
    .expect("reads");
    let dependency = &masking.missing_dependencies[0];
    assert_eq!(dependency.required.kind.as_deref(), Some("maskingrule"));
    assert_eq!(
        dependency.required.solution_name.as_deref(),
        Some("msft_ColumnLevelSecurityData")
    );
    assert_eq!(
        dependency.required.solution_version.as_deref(),
        Some("1.2.0.28")
    );
    assert!(
        dependency.required.package.is_some(),
        "<package> child is kept"
    );

    let admin = read_package(&corpus.join("powerapps-tools/PowerPlatformAdmin_1_0_0_40.zip"))
        .expect("reads");
    let status = admin
        .option_sets
        .iter()
        .find(|s| s.global && s.name == "admin_approvalstatus")
        .expect("global option set");
    assert!(
        status.values.iter().any(|v| v.value == 597_910_000),
        "option values carry the publisher prefix"
    );
    let dependency = &admin.missing_dependencies[2];
    assert_eq!(
        dependency.required.solution_name.as_deref(),
        Some("AppModuleWebResources")
    );
    assert_eq!(dependency.required.solution_version.as_deref(), Some("2.5"));
    assert!(
        admin.components.get("workflows").copied().unwrap_or(0) >= 5,
        "{:?}",
        admin.components
    );
    assert!(
        admin.components.get("canvas_apps").copied().unwrap_or(0) >= 3,
        "{:?}",
        admin.components
    );
    let local = admin.option_sets.iter().filter(|s| !s.global).count();
    assert!(local > 0, "local option sets are listed");
    assert!(admin
        .option_sets
        .iter()
        .filter(|s| !s.global)
        .all(|s| s.entity.is_some() && s.attribute.is_some()));

    let incident =
        read_package(&corpus.join("pnp-powerplatform-samples/IncidentReporting_1_0_0_2.zip"))
            .expect("reads");
    assert_eq!(incident.components.get("environment_variables"), Some(&2));
    assert_eq!(incident.components.get("connection_references"), Some(&2));
}

#[test]
fn reading_ahead_gives_what_reading_in_turn_gives_in_order() {
    let corpus = support::corpus();
    let scratch = tempfile::tempdir().expect("scratch dir");
    let not_a_zip = scratch.path().join("not-a-zip.zip");
    std::fs::write(&not_a_zip, b"plain text, no zip here").expect("write not-a-zip");
    let mut paths: Vec<PathBuf> = support::walk_zips(&corpus).into_iter().collect();
    assert!(paths.len() > 10, "corpus zips found: {}", paths.len());
    paths.insert(3, scratch.path().join("missing.zip"));
    paths.push(not_a_zip);

    let in_turn: Vec<_> = paths.iter().map(|path| read_package(path)).collect();

    for readers in [1, 3] {
        let ahead: Vec<_> =
            ReadAhead::with_readers(paths.clone(), ReadLimits::default(), readers).collect();
        assert_read_alike(&ahead, &paths, &in_turn);
    }
    let default: Vec<_> = ReadAhead::start(paths.clone(), ReadLimits::default()).collect();
    assert_read_alike(&default, &paths, &in_turn);
}

fn assert_read_alike(
    ahead: &[solguard::package::ReadResult],
    paths: &[PathBuf],
    in_turn: &[Result<Package, solguard::package::PackageError>],
) {
    assert_eq!(ahead.len(), paths.len());
    for (((path, read), expected_path), in_turn) in ahead.iter().zip(paths).zip(in_turn) {
        assert_eq!(path, expected_path, "results come in the order given");
        match (read, in_turn) {
            (Ok(package), Ok(expected)) => assert_eq!(
                serde_json::to_value(package).expect("package as JSON"),
                serde_json::to_value(expected).expect("package as JSON"),
                "{}",
                path.display()
            ),
            (Err(error), Err(expected)) => {
                assert_eq!(
                    error.to_string(),
                    expected.to_string(),
                    "{}",
                    path.display()
                )
            }
            (read, in_turn) => panic!(
                "{}: read ahead {:?}, in turn {:?}",
                path.display(),
                read.as_ref().map(|p| &p.unique_name),
                in_turn.as_ref().map(|p| &p.unique_name)
            ),
        }
    }
    assert!(ahead[3].1.is_err(), "the missing path is an error");
    assert!(ahead.last().is_some_and(|(_, read)| read.is_err()));
}
