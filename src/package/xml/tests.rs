//! The XML stream on small documents: references, encodings, lines, and every refusal.

use super::*;

fn stream(bytes: &[u8]) -> XmlStream<'_> {
    XmlStream::open(
        bytes,
        FileContext::new(Path::new("pkg.zip"), "solution.xml"),
        &ReadLimits::default(),
    )
    .expect("stream opens")
}

fn root_children(bytes: &[u8]) -> Result<Vec<(String, String, u64)>, PackageError> {
    let mut xml = stream(bytes);
    let root = xml.root()?;
    let empty = root.empty;
    let mut found = Vec::new();
    if empty {
        return Ok(found);
    }
    while let Some(tag) = xml.next_child()? {
        let (name, empty, line) = (tag.name_string(), tag.empty, tag.line());
        let text = xml.text(empty)?;
        found.push((name, text, line));
    }
    xml.finish()?;
    Ok(found)
}

#[test]
fn reads_text_with_references_and_lines() {
    let xml = b"<Root>\n  <A>x &amp; y &#x41;</A>\n\n  <B\n k='1'>b<![CDATA[<c>]]></B>\n</Root>";
    let children = root_children(xml).expect("parses");
    assert_eq!(
        children,
        vec![
            ("A".into(), "x & y A".into(), 2),
            ("B".into(), "b<c>".into(), 4)
        ]
    );
}

#[test]
fn utf8_bom_and_utf16_files_read_the_same() {
    let text = "<?xml version=\"1.0\" encoding=\"utf-16\"?>\n<Root><A>Zürich</A></Root>";
    let expected = vec![("A".to_string(), "Zürich".to_string(), 2)];
    let mut bom_utf8 = vec![0xEF, 0xBB, 0xBF];
    bom_utf8.extend_from_slice(text.as_bytes());
    assert_eq!(root_children(&bom_utf8).expect("utf-8 bom"), expected);
    let le: Vec<u8> = text.encode_utf16().flat_map(u16::to_le_bytes).collect();
    let mut le_bom = vec![0xFF, 0xFE];
    le_bom.extend_from_slice(&le);
    assert_eq!(root_children(&le_bom).expect("utf-16le bom"), expected);
    assert_eq!(root_children(&le).expect("utf-16le no bom"), expected);
    let be: Vec<u8> = text.encode_utf16().flat_map(u16::to_be_bytes).collect();
    assert_eq!(root_children(&be).expect("utf-16be no bom"), expected);
}

#[test]
fn declared_legacy_encoding_is_transcoded() {
    let mut bytes = b"<?xml version='1.0' encoding='windows-1252'?><Root><A>Z".to_vec();
    bytes.push(0xFC); // ü in windows-1252
    bytes.extend_from_slice(b"rich</A></Root>");
    assert_eq!(root_children(&bytes).expect("parses")[0].1, "Zürich");
}

#[test]
fn invalid_utf8_is_an_encoding_error_with_position() {
    let error = root_children(b"<Root>\n<A>\xFF\xFE\xFD</A></Root>").expect_err("invalid");
    assert_eq!(error.code(), "bad-encoding", "{error}");
    assert_eq!(error.line(), Some(2), "{error}");
}

#[test]
fn doctype_is_refused_before_any_entity_is_expanded() {
    let bomb = b"<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\"><!ENTITY lol2 \"&lol;&lol;\">]><Root><A>&lol2;</A></Root>";
    let error = root_children(bomb).expect_err("refused");
    assert_eq!(error.code(), "xml-doctype");
    let external = b"<!DOCTYPE r [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><Root>&x;</Root>";
    assert_eq!(
        root_children(external).expect_err("refused").code(),
        "xml-doctype"
    );
}

#[test]
fn undeclared_entity_is_an_error() {
    let error = root_children(b"<Root><A>&nope;</A></Root>").expect_err("undeclared");
    assert!(
        error.to_string().contains("undeclared entity &nope;"),
        "{error}"
    );
}

#[test]
fn malformed_xml_names_line_and_column() {
    let error = root_children(b"<Root>\n  <A>x</B>\n</Root>").expect_err("mismatched");
    assert_eq!(error.code(), "malformed-xml");
    assert_eq!(error.line(), Some(2), "{error}");
    assert!(
        error.to_string().starts_with("pkg.zip: solution.xml:2:"),
        "{error}"
    );
}

#[test]
fn deep_nesting_and_huge_tokens_are_bounded() {
    let deep = "<a>".repeat(100_000);
    assert_eq!(
        root_children(deep.as_bytes()).expect_err("too deep").code(),
        "malformed-xml"
    );
    let limits = ReadLimits {
        max_xml_token_bytes: 1024,
        ..ReadLimits::default()
    };
    let huge = format!("<Root><A v=\"{}\"/></Root>", "x".repeat(10_000));
    let mut xml = XmlStream::open(
        huge.as_bytes(),
        FileContext::new(Path::new("p"), "f.xml"),
        &limits,
    )
    .expect("opens");
    let root_empty = xml.root().expect("root").empty;
    assert!(!root_empty);
    let error = xml.next_child().err().expect("token too large");
    assert!(
        matches!(error.kind(), PackageErrorKind::TokenTooLarge(1024)),
        "{error}"
    );
}

#[test]
fn truncated_document_is_an_error() {
    let error = root_children(b"<Root><A>x</A>").expect_err("truncated");
    assert_eq!(error.code(), "malformed-xml");
}
