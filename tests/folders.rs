//! Unpacked SolutionPackager trees (also under `src/` and with varying file-name case), export
//! folders, patches, and symlinks that try to leave the package folder.

mod support;

use solguard::package::{read_package, Layout, ManagedState};
use support::{attribute, customizations, entity, write_tree, Manifest};
use tempfile::TempDir;

fn unpacked_files(manifest: &Manifest) -> Vec<(&'static str, String)> {
    let bom_decl = "\u{feff}<?xml version=\"1.0\" encoding=\"utf-8\"?>\n";
    let entity_file = format!(
        "{bom_decl}{}",
        entity(
            "con_Project",
            &[
                attribute("con_projectid", "primarykey", false),
                attribute("con_Budget", "money", true)
            ]
        )
    );
    let option_set = format!(
        "{bom_decl}<optionset Name=\"con_priority\" localizedName=\"Priority\"><OptionSetType>picklist</OptionSetType><IsGlobal>1</IsGlobal><options><option value=\"612300000\"><labels><label description=\"High\" languagecode=\"1033\" /></labels></option><option value=\"612300001\"><labels><label description=\"Low\" languagecode=\"1033\" /></labels></option></options></optionset>"
    );
    vec![
        ("Other/solution.xml", format!("{bom_decl}{}", manifest.xml())),
        ("Other/Customizations.xml", format!("{bom_decl}{}", customizations(&[], ""))),
        ("Entities/con_Project/Entity.xml", entity_file),
        ("Entities/con_Project/FormXml/main/{0001}.xml", "<forms/>".into()),
        ("OptionSets/con_priority.xml", option_set),
        (
            "Other/Relationships.xml",
            "<EntityRelationships><EntityRelationship Name=\"con_project_owner\" /><EntityRelationship Name=\"con_Project_Parent\" /></EntityRelationships>".into(),
        ),
        (
            "Other/Relationships/con_Project.xml",
            "<EntityRelationships><EntityRelationship Name=\"con_Project_Parent\"><EntityRelationshipType>OneToMany</EntityRelationshipType><ReferencingEntityName>con_Project</ReferencingEntityName><ReferencedEntityName>con_Project</ReferencedEntityName><ReferencingAttributeName>con_Parent</ReferencingAttributeName><CascadeDelete>RemoveLink</CascadeDelete></EntityRelationship></EntityRelationships>".into(),
        ),
        ("Workflows/Notify-0001.json", "{}".into()),
        ("Workflows/Notify-0001.json.data.xml", "<Workflow/>".into()),
        ("WebResources/con_/logo.svg", "<svg/>".into()),
        ("WebResources/con_/logo.svg.data.xml", "<WebResource/>".into()),
        ("WebResources/con_/app.js.data.xml", "<WebResource/>".into()),
        (
            "environmentvariabledefinitions/con_ApiUrl/environmentvariabledefinition.xml",
            "<environmentvariabledefinition schemaname=\"con_ApiUrl\">\n  <defaultvalue>https://api.contoso.com</defaultvalue>\n  <isrequired>1</isrequired>\n  <type>100000000</type>\n</environmentvariabledefinition>".into(),
        ),
        (
            "environmentvariabledefinitions/con_ApiUrl/environmentvariablevalues.json",
            r#"{"environmentvariablevalues":{"environmentvariablevalue":{"value":"https://test.contoso.com"}}}"#.into(),
        ),
    ]
}

#[test]
fn unpacked_tree_with_lowercase_manifest_name_is_read_whole() {
    let dir = TempDir::new().expect("tempdir");
    let manifest = Manifest {
        managed: Some("2".into()),
        ..Manifest::default()
    };
    write_tree(dir.path(), &unpacked_files(&manifest));
    let package = read_package(dir.path()).expect("reads");
    assert_eq!(package.source.layout, Layout::Unpacked);
    assert_eq!(package.managed, ManagedState::Both);
    assert_eq!(&*package.location.file, "Other/solution.xml");
    let project = package
        .entity("con_project")
        .expect("entity from Entities/");
    assert_eq!(project.schema_name, "con_Project");
    assert!(!project.shell);
    assert_eq!(&*project.location.file, "Entities/con_Project/Entity.xml");
    let budget = project
        .attributes
        .iter()
        .find(|a| a.name == "con_budget")
        .expect("attribute");
    assert!(budget.custom);
    assert_eq!(budget.attribute_type.as_deref(), Some("money"));
    assert_eq!(budget.schema_name.as_deref(), Some("con_Budget"));
    let priority = package
        .option_sets
        .iter()
        .find(|s| s.name == "con_priority")
        .expect("option set");
    assert!(priority.global);
    assert_eq!(
        priority.values.iter().map(|v| v.value).collect::<Vec<_>>(),
        [612_300_000, 612_300_001]
    );
    assert_eq!(priority.values[0].label.as_deref(), Some("High"));
    assert_eq!(&*priority.location.file, "OptionSets/con_priority.xml");
    assert_eq!(
        package.relationships.len(),
        2,
        "names merged with definitions"
    );
    let parent = package
        .relationships
        .iter()
        .find(|r| r.name == "con_Project_Parent")
        .expect("defined");
    assert_eq!(parent.relationship_type.as_deref(), Some("OneToMany"));
    assert_eq!(parent.referencing_attribute.as_deref(), Some("con_Parent"));
    assert_eq!(package.components.get("workflows"), Some(&1));
    assert_eq!(package.components.get("web_resources"), Some(&2));
    assert_eq!(package.components.get("environment_variables"), Some(&1));
    let variable = &package.environment_variables[0];
    assert_eq!(variable.schema_name, "con_ApiUrl");
    assert_eq!(variable.variable_type.as_deref(), Some("text"));
    assert!(variable.has_default && variable.has_value && variable.required);
    assert_eq!(
        &*variable.location.file,
        "environmentvariabledefinitions/con_ApiUrl/environmentvariabledefinition.xml"
    );
    let model = serde_json::to_string(&package).expect("json");
    assert!(
        !model.contains("contoso.com"),
        "values are never kept: {model}"
    );
}

#[test]
fn pac_project_tree_under_src_is_found() {
    let dir = TempDir::new().expect("tempdir");
    let files: Vec<(String, String)> = unpacked_files(&Manifest::default())
        .into_iter()
        .map(|(path, content)| (format!("src/{path}"), content))
        .collect();
    let files: Vec<(&str, String)> = files.iter().map(|(p, c)| (p.as_str(), c.clone())).collect();
    write_tree(dir.path(), &files);
    std::fs::write(dir.path().join("ContosoCore.cdsproj"), "<Project/>").expect("write");
    let package = read_package(dir.path()).expect("reads");
    assert_eq!(package.source.root, "src");
    assert_eq!(&*package.location.file, "src/Other/solution.xml");
    assert_eq!(package.entities.len(), 1);
}

#[test]
fn export_folder_with_the_three_root_files_is_read() {
    let dir = TempDir::new().expect("tempdir");
    write_tree(
        dir.path(),
        &[
            ("solution.xml", Manifest::default().xml()),
            (
                "customizations.xml",
                customizations(
                    &[entity(
                        "con_task",
                        &[attribute("con_title", "nvarchar", true)],
                    )],
                    "",
                ),
            ),
            ("[Content_Types].xml", support::CONTENT_TYPES.into()),
        ],
    );
    let package = read_package(dir.path()).expect("reads");
    assert_eq!(package.source.layout, Layout::ExportFolder);
    let title = &package.entity("con_task").expect("entity").attributes[0];
    assert_eq!(title.max_length, Some(100));
    assert!(package.warnings.is_empty(), "{:?}", package.warnings);
}

#[test]
fn folder_without_a_manifest_says_where_it_looked() {
    let dir = TempDir::new().expect("tempdir");
    write_tree(dir.path(), &[("README.md", "hello".into())]);
    let error = read_package(dir.path()).expect_err("no manifest");
    assert_eq!(error.code(), "missing-manifest");
    assert!(error.to_string().contains("Other/Solution.xml"), "{error}");
}

#[test]
fn patch_manifest_names_its_parent() {
    let dir = TempDir::new().expect("tempdir");
    let manifest = Manifest {
        unique_name: Some("ContosoCore_Patch_1a2b3c4d".into()),
        version: Some("1.0.1.0".into()),
        extra: "<ParentSolution><UniqueName>ContosoCore</UniqueName><Version>1.0.0.0</Version><Extra/></ParentSolution><RootComponents /><MissingDependencies />".into(),
        ..Manifest::default()
    };
    write_tree(
        dir.path(),
        &[
            ("Other/Solution.xml", manifest.xml()),
            ("Other/Customizations.xml", customizations(&[], "")),
        ],
    );
    let package = read_package(dir.path()).expect("reads");
    assert!(package.is_patch());
    let parent = package.parent.as_ref().expect("parent");
    assert_eq!(parent.unique_name, "ContosoCore");
    assert_eq!(parent.version.as_deref(), Some("1.0.0.0"));
    assert!(parent.location.line > 1);
}

#[cfg(unix)]
#[test]
fn symlinks_leaving_the_package_are_refused() {
    let outside = TempDir::new().expect("tempdir");
    std::fs::write(outside.path().join("secret.xml"), Manifest::default().xml()).expect("write");
    let dir = TempDir::new().expect("tempdir");
    write_tree(
        dir.path(),
        &[("Other/Customizations.xml", customizations(&[], ""))],
    );
    std::os::unix::fs::symlink(
        outside.path().join("secret.xml"),
        dir.path().join("Other/Solution.xml"),
    )
    .expect("symlink");
    let error = read_package(dir.path()).expect_err("escaping symlink");
    assert_eq!(error.code(), "symlink-escape", "{error}");
    assert!(error.to_string().contains("Other/Solution.xml"), "{error}");

    // A link that stays inside the package is fine.
    let inside = TempDir::new().expect("tempdir");
    write_tree(
        inside.path(),
        &[
            ("Other/real.xml", Manifest::default().xml()),
            ("Other/Customizations.xml", customizations(&[], "")),
        ],
    );
    std::os::unix::fs::symlink(
        inside.path().join("Other/real.xml"),
        inside.path().join("Other/Solution.xml"),
    )
    .expect("symlink");
    assert_eq!(
        read_package(inside.path()).expect("reads").unique_name,
        "ContosoCore"
    );
}
