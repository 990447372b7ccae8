//! Scanning past the subtrees no check reads (forms, views, ribbons, site maps, ...) gives
//! exactly what tokenizing them gives: the same model, line numbers included, for every real
//! package of the corpus and for generated `customizations.xml` files full of what makes
//! skipping hard (comments, CDATA sections, processing instructions, references, attribute
//! values holding `>` and `/`, nesting, newlines), and the same verdict (read or refused) for
//! broken ones: truncated, mismatched tags, a DOCTYPE, nesting past the bound, a token past
//! its bound.

mod support;

use std::path::Path;

use proptest::prelude::*;
use solguard::package::{read_package_with, ReadLimits};
use support::reads::{customizations_of, damaged_package, limits, refused_alike, scanned_ways};
use support::{attribute, corpus, customizations, entity, ZipBuilder};

/// Reads `path` both ways: the models as JSON, or the error codes.
fn both_ways(path: &Path, base: &ReadLimits) -> (Result<String, String>, Result<String, String>) {
    let read = |scan: bool| {
        let limits = ReadLimits {
            scan_skipped: scan,
            ..base.clone()
        };
        read_package_with(path, &limits)
            .map(|p| serde_json::to_string(&p).expect("serializes"))
            .map_err(|e| format!("{}: {e}", e.code()))
    };
    (read(true), read(false))
}

fn assert_same(path: &Path, base: &ReadLimits) {
    match both_ways(path, base) {
        (Ok(scanned), Ok(tokenized)) => {
            assert!(
                scanned == tokenized,
                "{}: the models differ",
                path.display()
            )
        }
        (Err(_), Err(_)) => {}
        (scanned, tokenized) => panic!(
            "{}: scanned {:?}, tokenized {:?}",
            path.display(),
            scanned.map(|_| "a model"),
            tokenized.map(|_| "a model")
        ),
    }
}

#[test]
fn every_corpus_package_reads_the_same_scanned_or_tokenized() {
    let mut packages = Vec::new();
    let mut stack = vec![corpus()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("corpus folder").flatten() {
            let path = entry.path();
            let zip = path
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("zip"));
            let unpacked =
                path.join("Other/Solution.xml").is_file() || path.join("solution.xml").is_file();
            if zip || unpacked {
                packages.push(path);
            } else if path.is_dir() {
                stack.push(path);
            }
        }
    }
    assert!(
        packages.len() > 30,
        "the corpus holds {} packages",
        packages.len()
    );
    for package in &packages {
        assert_same(package, &limits(true));
    }
}

/// Markup fragments the reader skips, each valid on its own.
fn fragment() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        "[a-z ]{0,12}".prop_map(|t| t),
        Just("&amp;&lt;&#x41;&#65;".to_owned()),
        Just("<!-- a > b -- c - -->".to_owned()),
        Just("<!---->".to_owned()),
        Just("<![CDATA[ <x> ]] ] ]> ]]>".to_owned()),
        Just("<?pi a > b ? ?>".to_owned()),
        Just("<e a=\"x > / y\" b='q\"/>'/>".to_owned()),
        Just("<e\n  a=\"1\"\n  b='2'\n/>".to_owned()),
        Just("<ns:e xmlns:ns=\"urn:x\">t</ns:e>".to_owned()),
        Just("<e></e >".to_owned()),
        Just("\n\r\n\t".to_owned()),
        // Each holds what would end it early, then markup that would then be misread.
        Just("<![CDATA[ ]> ]] > </b> <c> ]]>".to_owned()),
        Just("<!-- -> - > </b> <c> -->".to_owned()),
        Just("<?pi ? > > </b> <c> ?>".to_owned()),
        Just("<e a=\"/>\" b='>'>t</e>".to_owned()),
        Just("<e-1.x_y a='1'/>".to_owned()),
        // Names as the tokenizer takes them: up to the first whitespace, quotes and `/` in.
        Just("<a/b>t</a/b>".to_owned()),
        Just("<q'x'>t</q'x' >".to_owned()),
        Just("<control id=\"x\" classid=\"{4273EDBD-AC1D-40d3-9FB2-095C621B552D}\" />".to_owned()),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        (
            "[a-zA-Z][a-zA-Z0-9_]{0,8}",
            "( [a-z]{1,4}=\"[^\"<&]{0,10}\")?",
            prop::collection::vec(inner, 0..6),
        )
            .prop_map(|(name, attrs, children)| {
                format!("<{name}{attrs}>{}</{name}>", children.concat())
            })
    })
}

/// A package whose `customizations.xml` holds one table with `forms` inside its `FormXml`,
/// `SavedQueries` and `RibbonDiffXml`, and `more` in a top-level collection no check reads.
fn package_with(
    dir: &Path,
    forms: &[String],
    more: &str,
    cut: Option<usize>,
) -> std::path::PathBuf {
    let table = entity(
        "con_Project",
        &[
            attribute("con_projectid", "primarykey", false),
            attribute("con_name", "nvarchar", true),
        ],
    )
    .replace(
        "<FormXml />",
        &format!("<FormXml>{}</FormXml>", forms.concat()),
    )
    .replace(
        "<SavedQueries />",
        &format!("<SavedQueries>\n{}\n</SavedQueries>", forms.join("\n")),
    )
    .replace(
        "<RibbonDiffXml />",
        &format!("<RibbonDiffXml>{}</RibbonDiffXml>", forms.concat()),
    );
    let mut xml = customizations(&[table], &format!("<SiteMap>{more}</SiteMap>"));
    if let Some(cut) = cut {
        let mut at = cut.min(xml.len());
        while !xml.is_char_boundary(at) {
            at -= 1;
        }
        xml.truncate(at);
    }
    ZipBuilder::solution()
        .file("customizations.xml", xml)
        .write(dir, "generated.zip")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn generated_skipped_subtrees_read_the_same(
        forms in prop::collection::vec(fragment(), 0..5),
        more in fragment(),
    ) {
        let dir = tempfile::tempdir().expect("tmp");
        let path = package_with(dir.path(), &forms, &more, None);
        let (scanned, tokenized) = both_ways(&path, &limits(true));
        prop_assert!(scanned.is_ok(), "a valid file reads: {scanned:?}");
        prop_assert_eq!(scanned, tokenized);
    }

    #[test]
    fn broken_skipped_subtrees_are_refused_the_same(
        forms in prop::collection::vec(fragment(), 1..4),
        cut in 200usize..6000,
        damage in prop_oneof![
            Just(""), Just("</wrong>"), Just("<open>"), Just("<!DOCTYPE x>"), Just("<!x>"),
            Just("<a b=\"unclosed>"), Just("<![CDATA[ never closed"), Just("<!-- never closed"),
            Just("&amp"), Just("<?pi"),
            // Found by the fuzz target: a quote in a name opens a value never closed.
            Just("<Ena'leRules />"), Just("<a/ >"), Just("</a\u{c}>"), Just("<q'x y'>t</q'x>"),
            Just("<q>t</q'>"),
        ],
        truncate in any::<bool>(),
    ) {
        let dir = tempfile::tempdir().expect("tmp");
        let mut forms = forms;
        forms.push(damage.to_owned());
        let path = package_with(dir.path(), &forms, "", truncate.then_some(cut));
        assert_same(&path, &limits(true));
    }
}

#[test]
fn deep_and_large_skipped_subtrees_meet_the_same_bounds() {
    let dir = tempfile::tempdir().expect("tmp");
    let deep = format!("{}{}", "<d>".repeat(40), "</d>".repeat(40));
    let path = package_with(dir.path(), &[deep], "", None);
    let tight = ReadLimits {
        max_xml_depth: 30,
        ..ReadLimits::default()
    };
    let (scanned, tokenized) = both_ways(&path, &tight);
    let too_deep = |r: &Result<String, String>| {
        r.as_ref()
            .is_err_and(|e| e.contains("nests deeper than 30"))
    };
    assert!(too_deep(&scanned), "{scanned:?}");
    assert!(too_deep(&tokenized), "{tokenized:?}");

    let long = format!("<c>{}</c><!--{}-->", "x".repeat(300_000), "y".repeat(10));
    let path = package_with(dir.path(), &[long], "", None);
    let small_tokens = ReadLimits {
        max_xml_token_bytes: 100_000,
        ..ReadLimits::default()
    };
    let (scanned, tokenized) = both_ways(&path, &small_tokens);
    let too_large = |r: &Result<String, String>| {
        r.as_ref()
            .is_err_and(|e| e.contains("larger than 100000 bytes"))
    };
    assert!(too_large(&scanned), "{scanned:?}");
    assert!(too_large(&tokenized), "{tokenized:?}");
}

/// Found by the `skip_scan` fuzz target: the tokenizer refuses bytes that are not UTF-8 in any
/// token, so the scanner must too, wherever they sit (text, comment, CDATA, attribute, name,
/// instruction) and wherever a buffer boundary cuts a character.
#[test]
fn bytes_that_are_not_utf8_are_refused_in_skipped_subtrees_too() {
    let dir = tempfile::tempdir().expect("tmp");
    let xml = skipped_form();
    let places: [&[u8]; 6] = [
        b"<p>a\xff b</p>",
        b"<!-- \xff -->",
        b"<![CDATA[ \xff ]]>",
        b"<e a=\"\xff\"/>",
        b"<e\xff/>",
        b"<?p \xff?>",
    ];
    for (index, place) in places.iter().enumerate() {
        let path = damaged_package(dir.path(), &xml, place, &format!("bad{index}.zip"));
        let (scanned, tokenized) = both_ways(&path, &limits(true));
        assert!(
            scanned.is_err() && tokenized.is_err(),
            "{index}: {scanned:?} / {tokenized:?}"
        );
        assert!(scanned.unwrap_err().contains("UTF-8"));
    }
    // A valid character cut by a buffer boundary (64 KiB) reads.
    let long = format!("<p>{}é€😀</p>", "x".repeat(65_533));
    let path = package_with(dir.path(), &[long], "", None);
    let (scanned, tokenized) = both_ways(&path, &limits(true));
    assert!(scanned.is_ok(), "{scanned:?}");
    assert_eq!(scanned, tokenized);
}

/// Where a read was refused: `customizations.xml:LINE:COLUMN`.
fn refused_at(path: &Path, limits: &ReadLimits) -> String {
    let error = read_package_with(path, limits).expect_err("the file is refused");
    let text = error.to_string();
    let place = text
        .split(": ")
        .find(|part| part.starts_with("customizations.xml:"))
        .unwrap_or_else(|| panic!("no place in {text}"));
    place.to_owned()
}

#[test]
fn a_refusal_deep_in_a_skipped_subtree_names_the_tokenizers_line_and_column() {
    // Found by the read_zip fuzz target: the scanner named the line where its buffer began,
    // so the place depended on buffer and inflate chunk boundaries.
    let dir = tempfile::tempdir().expect("tmp");
    let view = "<savedquery>\n  <LocalizedNames>\n    <LocalizedName description=\"All\" languagecode=\"1033\" />\n  </LocalizedNames>\n</savedquery>";
    let mut forms: Vec<String> = (0..3000).map(|_| view.to_owned()).collect();
    forms.push("<savedquery>\n  <Descriptions>\n  </ Descriptions>\n</savedquery>".to_owned());
    let path = package_with(dir.path(), &forms, "", None);
    let tokenized = refused_at(&path, &limits(false));
    for limits in scanned_ways() {
        assert_eq!(refused_at(&path, &limits), tokenized);
    }
    let line: u64 = tokenized
        .split(':')
        .nth(1)
        .and_then(|l| l.parse().ok())
        .expect("line");
    assert!(line > 10_000, "deep in the file: {tokenized}");
}

#[test]
fn a_bad_byte_before_a_mismatched_tag_is_the_refusal_at_the_bytes_line() {
    // Found by the read_zip fuzz target: the scanner checked UTF-8 per buffer, after the
    // structure, so a later mismatched tag in the same buffer was reported instead, and which
    // error won depended on buffer boundaries.
    let dir = tempfile::tempdir().expect("tmp");
    let view = "<savedquery>\n  <Descriptions>\n    <Description description=\"All\" />\n  </Descriptions>\n</savedquery>";
    let forms: Vec<String> = (0..2000).map(|_| view.to_owned()).collect();
    let path = package_with(dir.path(), &forms, "", None);
    // Damage the raw XML: a byte that is not UTF-8, then a wrong end tag two lines on.
    let mut xml = customizations_of(&path);
    let at = xml.len() / 2;
    let line_start = at + xml[at..].iter().position(|b| *b == b'\n').expect("newline") + 1;
    xml.splice(
        line_start..line_start,
        b"<x>caf\xE9</x>\n\n</y>".iter().copied(),
    );
    let damaged = ZipBuilder::solution()
        .file("customizations.xml", xml)
        .write(dir.path(), "damaged.zip");
    let tokenized = refused_at(&damaged, &limits(false));
    let line = |place: &str| place.split(':').nth(1).map(str::to_owned);
    for limits in scanned_ways() {
        let error = read_package_with(&damaged, &limits).expect_err("refused");
        assert_eq!(error.code(), "bad-encoding", "{error}");
        assert_eq!(line(&refused_at(&damaged, &limits)), line(&tokenized));
    }
}

#[test]
fn a_damaged_token_is_refused_where_it_ends_in_the_tokenizers_words_wherever_a_buffer_begins() {
    // Found by the read_zip fuzz target: a quote in a damaged tag name made one start tag run
    // over twelve lines; the scanner named the line of a bad byte in it, the tokenizer (which
    // checks each token when it ends) the token's end, and threaded and single-thread reads
    // were a column apart where a buffer boundary cut the bad character.
    let dir = tempfile::tempdir().expect("tmp");
    let view = "<savedquery>\n  <Descriptions>\n    <Description description=\"All\" />\n  </Descriptions>\n</savedquery>";
    let damages: [&[u8]; 6] = [
        // A bad byte in a start tag that spans lines.
        b"<x \"name=\xD8\xA7\xD9\x84\x88\xD8\n\n\" a=\"1\n\n\">text</x>",
        // A character cut short by the end of a text token.
        b"<p>caf\xC3</p>",
        // A character cut short in an attribute value.
        b"<p a=\"\xE2\x82\"/>",
        // A reference that `<` cuts off before its `;`.
        b"<p>&abc<q></r></p>",
        // A bad byte in an end tag's name, which does not match either.
        b"<p></p\xFF>",
        // Found by the skip_scan fuzz target: the `?` of `<?` also closes it, so `<?>` is a
        // whole instruction to the tokenizer, which refuses it as too short; the scanner took
        // the next `?>` as its end.
        b"<p><?>text</p><?pi?>",
    ];
    let forms: Vec<String> = (0..400).map(|_| view.to_owned()).collect();
    let path = package_with(dir.path(), &forms, "", None);
    let xml = customizations_of(&path);
    let middle = xml.len() / 2;
    let line_start = middle + xml[middle..].iter().position(|b| *b == b'\n').expect("nl") + 1;
    for (index, damage) in damages.iter().enumerate() {
        // Padding moves the damage across the 64 KiB read buffer's boundary, byte by byte.
        let boundary = 64 * 1024;
        for shift in 0..damage.len() + 2 {
            let mut damaged = xml.clone();
            let pad = (boundary + shift).saturating_sub(line_start);
            let mut insert = vec![b' '; pad];
            insert.extend_from_slice(damage);
            damaged.splice(line_start..line_start, insert);
            let file = ZipBuilder::solution()
                .file("customizations.xml", damaged)
                .write(dir.path(), &format!("damage{index}-{shift}.zip"));
            refused_alike(&file, &format!("damage {index}, shift {shift}"));
        }
    }
}

#[test]
fn a_character_cut_short_at_the_start_of_a_small_skip_is_refused_where_its_text_ends() {
    // Found by the skip_scan fuzz target: `<IsCustomizable>\xE5<?IsCustomizable>` in a small
    // skipped element. The scanner held `\xE5` as the start of a three-byte character, took the
    // `<` after it as its second byte and waited for a third, so the refusal moved to the end
    // of a processing instruction (or the file); the tokenizer refuses the text token at once.
    let dir = tempfile::tempdir().expect("tmp");
    let xml = customizations(
        &[entity(
            "con_Project",
            &[attribute("con_name", "nvarchar", true)],
        )],
        "<Languages>@</Languages>",
    );
    let damages: [&[u8]; 4] = [
        b"<IsCustomizable>\xE5<?pi x?></IsCustomizable>",
        b"<x>\xC3<![CDATA[x]]></x>",
        b"<x a=\"1\">\xF0\x9F<!-- c --></x>",
        b"<x>\xE5<x/></x>",
    ];
    for (index, damage) in damages.iter().enumerate() {
        let path = damaged_package(dir.path(), &xml, damage, &format!("cut{index}.zip"));
        let tokenized = refused_alike(&path, &format!("damage {index}"));
        assert!(tokenized.contains("incomplete utf-8"), "{tokenized}");
    }
}

#[test]
fn an_end_tag_named_only_by_whitespace_is_refused_as_the_tokenizer_refuses_it() {
    // Found by the read_zip fuzz target: `< PhysicalName…>` (a start tag whose name, up to the
    // first whitespace, is empty) closed by `</    >`. The tokenizer trims trailing whitespace
    // off an end tag's name unless the name is all whitespace, so it found `    ` where it
    // expected nothing; the scanner trimmed it to nothing and read on.
    let dir = tempfile::tempdir().expect("tmp");
    let xml = skipped_form();
    let damages: [&[u8]; 2] = [b"< a>text</    >", b"<x><\tb/>< c></ \n></x>"];
    for (index, damage) in damages.iter().enumerate() {
        let path = damaged_package(dir.path(), &xml, damage, &format!("blank{index}.zip"));
        let refusal = refused_alike(&path, &format!("damage {index}"));
        assert!(refusal.contains("expected `</>`"), "{refusal}");
    }
}

#[test]
fn a_doctype_in_a_skipped_subtree_is_refused_as_the_tokenizer_refuses_it() {
    // Found by the skip_scan fuzz target: `<!Dm…` holding a byte that is not UTF-8. The
    // tokenizer reads a whole declaration before it judges it, so it refused the bytes (and
    // would refuse a declaration never closed, or not named DOCTYPE, as malformed); the
    // scanner refused a DOCTYPE at its `<!D`.
    let dir = tempfile::tempdir().expect("tmp");
    let xml = skipped_form();
    let cases: [(&[u8], &str); 5] = [
        (b"<!DOCTYPE x>", "xml-doctype"),
        (b"<!doctype x [<!ENTITY e \"v>\">]>", "xml-doctype"),
        (b"<!Dm\x01\xbc\x92 x>", "bad-encoding"),
        (b"<!DOCTYPE x [ \xff ]>", "bad-encoding"),
        (b"<!Dxyz>", "malformed-xml"),
    ];
    for (index, (damage, code)) in cases.iter().enumerate() {
        let path = damaged_package(dir.path(), &xml, damage, &format!("dtd{index}.zip"));
        let (scanned, tokenized) = both_ways(&path, &limits(true));
        assert_eq!(scanned, tokenized, "case {index}");
        let refusal = scanned.expect_err("refused");
        assert!(refusal.starts_with(code), "case {index}: {refusal}");
    }
}

/// One table whose `FormXml` (a subtree the reader skips) holds the `@` marker.
fn skipped_form() -> String {
    customizations(
        &[entity(
            "con_Project",
            &[attribute("con_name", "nvarchar", true)],
        )],
        "",
    )
    .replace("<FormXml />", "<FormXml>@</FormXml>")
}
