//! Fuzzes the solution version parser: parsing never panics, a parsed version keeps its text,
//! and comparison is a total order consistent with equality.
#![no_main]

use libfuzzer_sys::fuzz_target;
use solguard::package::SolutionVersion;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (left, right) = text.split_once('|').unwrap_or((text, "1.0"));
    let (Ok(a), Ok(b)) = (SolutionVersion::parse(left), SolutionVersion::parse(right)) else {
        return;
    };
    assert_eq!(a.to_string(), left.trim());
    let reparsed = SolutionVersion::parse(&a.to_string()).expect("its own text parses");
    assert_eq!(reparsed, a);
    assert_eq!(a.cmp(&b).reverse(), b.cmp(&a));
    assert_eq!(a == b, a.cmp(&b).is_eq());
});
