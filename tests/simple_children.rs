//! The reader passes a column's simple children (`<Type>nvarchar</Type>`, `<IsSecured>0
//! </IsSecured>`: thirty-odd per column, most of an attribute-dense `customizations.xml`)
//! without the tokenizer. These tests hold that to the tokenizer: for columns whose children
//! take every shape near the simple one (references, CDATA, comments, carriage returns,
//! nested elements, spaced or prefixed tags, empty ones), for damaged children and at the
//! nesting and token bounds, the skip-scanned reads give the same model (line numbers included)
//! or the same refusal, word for word and place for place, as the tokenized read; and so they
//! do wherever a read buffer or inflate chunk begins.

mod support;

use proptest::prelude::*;
use solguard::package::{read_package_with, ReadLimits};
use support::reads::{damaged_package, limits, read_alike, refused_alike};
use support::{customizations, ZipBuilder};

/// The children of a custom text column as an export writes them, one per line.
const COLUMN_CHILDREN: [(&str, &str); 30] = [
    ("Type", "nvarchar"),
    ("Name", "NAME"),
    ("LogicalName", "NAME"),
    ("RequiredLevel", "none"),
    (
        "DisplayMask",
        "ValidForAdvancedFind|ValidForForm|ValidForGrid",
    ),
    ("ImeMode", "auto"),
    ("ValidForUpdateApi", "1"),
    ("ValidForReadApi", "1"),
    ("ValidForCreateApi", "1"),
    ("IsCustomField", "1"),
    ("IsAuditEnabled", "0"),
    ("IsSecured", "0"),
    ("IntroducedVersion", "1.0.0.0"),
    ("IsCustomizable", "1"),
    ("IsRenameable", "1"),
    ("CanModifySearchSettings", "1"),
    ("CanModifyRequirementLevelSettings", "1"),
    ("CanModifyAdditionalSettings", "1"),
    ("SourceType", "0"),
    ("IsGlobalFilterEnabled", "0"),
    ("IsSortableEnabled", "1"),
    ("CanModifyGlobalFilterSettings", "1"),
    ("CanModifyIsSortableSettings", "1"),
    ("IsDataSourceSecret", "0"),
    ("AutoNumberFormat", ""),
    ("IsSearchable", "0"),
    ("IsFilterable", "0"),
    ("IsRetrievable", "0"),
    ("Format", "text"),
    ("MaxLength", "100"),
];

/// One column named `name`; `extra` goes after its `<Type>`.
fn column(name: &str, extra: &str) -> String {
    let mut xml = format!("\n            <attribute PhysicalName=\"{name}\">");
    for (index, (child, value)) in COLUMN_CHILDREN.iter().enumerate() {
        let value = value.replace("NAME", name);
        xml.push_str(&format!("\n              <{child}>{value}</{child}>"));
        if index == 0 {
            xml.push_str(extra);
        }
    }
    xml.push_str("\n              <displaynames>\n                <displayname description=\"Name\" languagecode=\"1033\" />\n              </displaynames>\n            </attribute>");
    xml
}

/// A table of `columns` columns, the middle one holding `@` (the place of a variant) after its
/// `<Type>`.
fn table(columns: usize) -> String {
    let attributes: String = (0..columns)
        .map(|i| {
            column(
                &format!("new_col{i}"),
                if i == columns / 2 { "@" } else { "" },
            )
        })
        .collect();
    let entity = format!(
        "<Entity><Name LocalizedName=\"new_Table\" OriginalName=\"new_Table\">new_Table</Name><EntityInfo><entity Name=\"new_Table\"><attributes>{attributes}\n          </attributes></entity></EntityInfo><FormXml /></Entity>"
    );
    customizations(&[entity], "")
}

/// Children near the simple shape, each valid: the reader must read them as the tokenizer does.
const NEAR_SIMPLE: [&str; 18] = [
    "<MaxLength>250</MaxLength>",
    "<OptionSetName>new_a&amp;b</OptionSetName>",
    "<OptionSetName><![CDATA[new_cdata]]></OptionSetName>",
    "<OptionSetName>new_<!-- c -->split</OptionSetName>",
    "<OptionSetName>new_\r\ncr</OptionSetName>",
    "<OptionSetName>new_lone\rcr</OptionSetName>",
    "<OptionSetName >new_spaced</OptionSetName >",
    "<OptionSetName>new_end</OptionSetName\n>",
    "<OptionSetName/>",
    "<OptionSetName />",
    "<OptionSetName></OptionSetName>",
    "<OptionSetName>\n   new_padded \t\n</OptionSetName>",
    "<OptionSetName>new_caf\u{e9}_\u{20ac}_\u{1f600}</OptionSetName>",
    "<OptionSetName>new_<b>nested</b>_text</OptionSetName>",
    "<x:OptionSetName>new_prefixed</x:OptionSetName>",
    "stray text<RequiredLevel>required</RequiredLevel>",
    "<?pi ?><RequiredLevel>recommended</RequiredLevel>",
    "<IsCustomField>0</IsCustomField><Unknown.Child-1_x>a > b</Unknown.Child-1_x>",
];

#[test]
fn children_near_the_simple_shape_read_as_the_tokenizer_reads_them() {
    let dir = tempfile::tempdir().expect("tmp");
    let xml = table(5);
    for (index, variant) in NEAR_SIMPLE.iter().enumerate() {
        let path = damaged_package(
            dir.path(),
            &xml,
            variant.as_bytes(),
            &format!("v{index}.zip"),
        );
        let model = read_alike(&path, &ReadLimits::default(), &format!("variant {index}"));
        assert!(model.is_ok(), "variant {index} reads: {model:?}");
    }
    // What the model holds of them: a reference and CDATA resolved, a comment, a nested
    // element and CR LF handled as the tokenizer does, whitespace trimmed.
    let read = |variant: &str| {
        let path = damaged_package(dir.path(), &xml, variant.as_bytes(), "one.zip");
        let package = read_package_with(&path, &limits(true)).expect("reads");
        let column = &package.entities[0].attributes[2];
        column.option_set.as_deref().map(str::to_owned)
    };
    for (variant, expected) in [
        (NEAR_SIMPLE[1], "new_a&b"),
        (NEAR_SIMPLE[2], "new_cdata"),
        (NEAR_SIMPLE[3], "new_split"),
        (NEAR_SIMPLE[4], "new_\ncr"),
        (NEAR_SIMPLE[11], "new_padded"),
        (NEAR_SIMPLE[13], "new__text"),
    ] {
        assert_eq!(read(variant).as_deref(), Some(expected), "{variant:?}");
    }
}

/// Damaged children, each refused by the tokenizer.
const DAMAGED: [&[u8]; 11] = [
    b"<OptionSetName>new_\xFFbad</OptionSetName>",
    b"<OptionSetName>new_caf\xC3</OptionSetName>",
    b"<OptionSetName>new_x</OptionSetNam>",
    b"<OptionSetName>new_x</OptionSetNamf>",
    b"<OptionSetName>new_&amp</OptionSetName>",
    b"<OptionSetName>new_&nbsp;</OptionSetName>",
    b"<OptionSetName>new_&#xFFFFFFFF;</OptionSetName>",
    b"<OptionSet\xFFName>new_x</OptionSet\xFFName>",
    b"<OptionSetName>new_x</OptionSetName></attribute>",
    b"<OptionSetName>new_x</OptionSetName",
    b"<OptionSetName>new_x",
];

#[test]
fn damaged_children_are_refused_as_the_tokenizer_refuses_them() {
    let dir = tempfile::tempdir().expect("tmp");
    let xml = table(5);
    for (index, damage) in DAMAGED.iter().enumerate() {
        let path = damaged_package(dir.path(), &xml, damage, &format!("d{index}.zip"));
        let refusal = refused_alike(&path, &format!("damage {index}"));
        assert!(refusal.contains("customizations.xml:"), "{refusal}");
    }
}

#[test]
fn simple_children_read_alike_wherever_a_buffer_or_chunk_boundary_cuts_them() {
    let dir = tempfile::tempdir().expect("tmp");
    let xml = table(60);
    let marker = xml.find('@').expect("marker");
    assert!(xml.len() > 80 << 10, "the file spans read buffers");
    // The first read takes the 256 bytes sniffed for the encoding, later ones 64 KiB (single
    // thread) or the inflate's pieces (background thread): both places are swept.
    for boundary in [64 << 10, (64 << 10) + 256] {
        for (index, variant) in ["<MaxLength>4000</MaxLength>", "<OptionSetName/>"]
            .iter()
            .enumerate()
        {
            for start in boundary - variant.len() - 20..boundary + 2 {
                let pad = " ".repeat(start - marker);
                let bytes = format!("{pad}{variant}");
                let path = damaged_package(dir.path(), &xml, bytes.as_bytes(), "cut.zip");
                let label = format!("variant {index} at {start}");
                let model = read_alike(&path, &ReadLimits::default(), &label);
                assert!(model.is_ok(), "{label}: {model:?}");
            }
        }
    }
}

#[test]
fn simple_children_meet_the_depth_and_token_bounds_as_the_tokenizer_does() {
    let dir = tempfile::tempdir().expect("tmp");
    // The one token past 2,000 bytes is the text of a simple child.
    let long_child = format!("<OptionSetName>{}</OptionSetName>", "x".repeat(3000));
    let path = ZipBuilder::solution()
        .file("customizations.xml", table(3).replace('@', &long_child))
        .write(dir.path(), "bounds.zip");
    // <ImportExportXml><Entities><Entity><EntityInfo><entity><attributes><attribute><Type>
    let child_depth = 8;
    let mut outcomes = Vec::new();
    for max_xml_depth in [child_depth - 1, child_depth] {
        for max_xml_token_bytes in [2000, 1 << 20] {
            let bounds = ReadLimits {
                max_xml_depth,
                max_xml_token_bytes,
                ..ReadLimits::default()
            };
            let label = format!("depth {max_xml_depth}, token {max_xml_token_bytes}");
            outcomes.push(read_alike(&path, &bounds, &label).is_ok());
        }
    }
    // The bounds do bite: too shallow or too small a token is refused, the rest reads.
    assert_eq!(outcomes, [false, false, false, true]);
}

fn child() -> impl Strategy<Value = Vec<u8>> {
    let name = prop_oneof![
        Just("MaxLength"),
        Just("OptionSetName"),
        Just("RequiredLevel"),
        Just("IsSecured"),
        Just("Odd_Name.x-1"),
        Just("p:Type"),
        Just("Bad\u{e9}"),
    ];
    let pieces: Vec<&'static [u8]> = vec![
        b"1",
        b"new_x",
        b" ",
        b"\n",
        b"\r",
        b"&amp;",
        b"&bad",
        b"<!--c-->",
        b"<![CDATA[d]]>",
        b"<i/>",
        b"\xC3\xA9",
        b"\xC3",
        b">",
    ];
    let text = prop::collection::vec(prop::sample::select(pieces), 0..4);
    let end = prop_oneof![Just(""), Just(" "), Just("x"), Just("\n")];
    (name, text, end, any::<bool>()).prop_map(|(name, text, end, empty)| {
        if empty {
            return format!("\n  <{name}{end}/>").into_bytes();
        }
        let mut bytes = format!("\n  <{name}>").into_bytes();
        bytes.extend(text.concat());
        bytes.extend(format!("</{name}{end}>").into_bytes());
        bytes
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn generated_children_read_or_are_refused_as_the_tokenizer_does(
        children in prop::collection::vec(child(), 1..6),
    ) {
        let dir = tempfile::tempdir().expect("tmp");
        let path = damaged_package(dir.path(), &table(3), &children.concat(), "generated.zip");
        let label = format!("{:?}", String::from_utf8_lossy(&children.concat()));
        // Read or refused, alike; either may be right for a generated child.
        let _ = read_alike(&path, &ReadLimits::default(), &label);
    }
}
