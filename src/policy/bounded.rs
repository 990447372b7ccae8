//! Built-ins that grow data, checked *before* they allocate. Rhai checks a string's or an
//! array's size after each call, so one `pad` or `replace` could allocate gigabytes before
//! the limit is seen (and run long past the time budget, since a built-in cannot be stopped
//! mid-call). These replacements (`pad`, `replace`, `split`, `+` and `+=` on strings and
//! arrays) compute the size of the result first and refuse, as a `policy-error`, what would
//! exceed the sandbox limits or the run's data ceiling.

use rhai::{Array, Dynamic, Engine, EvalAltResult, ImmutableString, Position, INT};

use super::budget::produce;

type Checked<T> = Result<T, Box<EvalAltResult>>;

fn too_large(what: &str) -> Box<EvalAltResult> {
    EvalAltResult::ErrorDataTooLarge(what.into(), Position::NONE).into()
}

/// The byte size of `text` with every `find` replaced by `with` (an empty `find` matches
/// between every character, as `str::replace` does).
fn replaced_len(text: &str, find: &str, with: &str) -> usize {
    let matches = if find.is_empty() {
        text.chars().count() + 1
    } else {
        text.matches(find).count()
    };
    (text.len() - matches.saturating_mul(find.len()).min(text.len()))
        .saturating_add(matches.saturating_mul(with.len()))
}

fn replace_checked(text: &mut ImmutableString, find: &str, with: &str, max: usize) -> Checked<()> {
    let size = replaced_len(text, find, with);
    if size > max {
        return Err(too_large("Length of string"));
    }
    produce(size)?;
    *text = text.replace(find, with).into();
    Ok(())
}

fn pad_checked(text: &mut ImmutableString, len: INT, with: &str, max: usize) -> Checked<()> {
    let Ok(len) = usize::try_from(len) else {
        return Ok(());
    };
    let have = text.chars().count();
    if len <= have || with.is_empty() {
        return Ok(());
    }
    let piece_chars = with.chars().count();
    let missing = len - have;
    let bytes_per_char = with.len().div_ceil(piece_chars);
    let size = text
        .len()
        .saturating_add(missing.saturating_mul(bytes_per_char));
    if size > max {
        return Err(too_large("Length of string"));
    }
    produce(size)?;
    let mut grown = String::with_capacity(size);
    grown.push_str(text);
    // Whole copies of the padding by repetition (block copies), then the chars left over.
    grown.push_str(&with.repeat(missing / piece_chars));
    grown.extend(with.chars().take(missing % piece_chars));
    *text = grown.into();
    Ok(())
}

/// `a + b`, refused before allocating when the result would pass the limits.
fn concat_checked(a: &str, b: &str, max: usize) -> Checked<ImmutableString> {
    let size = a.len().saturating_add(b.len());
    if size > max {
        return Err(too_large("Length of string"));
    }
    produce(size)?;
    let mut joined = String::with_capacity(size);
    joined.push_str(a);
    joined.push_str(b);
    Ok(joined.into())
}

/// The bytes a split into `pieces` strings holds, roughly: each piece is a string value.
fn pieces_size(pieces: usize, text_len: usize) -> usize {
    pieces
        .saturating_mul(std::mem::size_of::<Dynamic>() + std::mem::size_of::<ImmutableString>())
        .saturating_add(text_len)
}

fn split_checked(text: &str, separator: &str, max_array: usize) -> Checked<Array> {
    let pieces = if separator.is_empty() {
        text.chars().count() + 2
    } else {
        text.matches(separator).count() + 1
    };
    if pieces > max_array {
        return Err(too_large("Size of array"));
    }
    produce(pieces_size(pieces, text.len()))?;
    Ok(text
        .split(separator)
        .map(|piece| Dynamic::from(ImmutableString::from(piece)))
        .collect())
}

/// Registers the checked forms over Rhai's own, with the sandbox's size limits.
pub(super) fn register(engine: &mut Engine, max_string: usize, max_array: usize) {
    // Operators on standard types resolve to Rhai's own unless fast operators are off.
    engine.set_fast_operators(false);
    engine.register_fn("+", move |a: ImmutableString, b: ImmutableString| {
        concat_checked(&a, &b, max_string)
    });
    engine.register_fn(
        "+=",
        move |a: &mut ImmutableString, b: ImmutableString| -> Checked<()> {
            *a = concat_checked(a, &b, max_string)?;
            Ok(())
        },
    );
    engine.register_fn(
        "replace",
        move |text: &mut ImmutableString, find: &str, with: &str| {
            replace_checked(text, find, with, max_string)
        },
    );
    engine.register_fn(
        "replace",
        move |text: &mut ImmutableString, find: &str, with: char| {
            replace_checked(text, find, with.encode_utf8(&mut [0; 4]), max_string)
        },
    );
    engine.register_fn(
        "replace",
        move |text: &mut ImmutableString, find: char, with: &str| {
            replace_checked(text, find.encode_utf8(&mut [0; 4]), with, max_string)
        },
    );
    engine.register_fn(
        "replace",
        move |text: &mut ImmutableString, find: char, with: char| {
            let (mut a, mut b) = ([0; 4], [0; 4]);
            replace_checked(
                text,
                find.encode_utf8(&mut a),
                with.encode_utf8(&mut b),
                max_string,
            )
        },
    );
    engine.register_fn(
        "pad",
        move |text: &mut ImmutableString, len: INT, with: char| {
            pad_checked(text, len, with.encode_utf8(&mut [0; 4]), max_string)
        },
    );
    engine.register_fn(
        "pad",
        move |text: &mut ImmutableString, len: INT, with: &str| {
            pad_checked(text, len, with, max_string)
        },
    );
    engine.register_fn("split", move |text: &str, separator: &str| {
        split_checked(text, separator, max_array)
    });
    engine.register_fn("split", move |text: &str, separator: char| {
        split_checked(text, separator.encode_utf8(&mut [0; 4]), max_array)
    });
    engine.register_fn("+", move |a: Array, b: Array| -> Checked<Array> {
        let len = a.len().saturating_add(b.len());
        if len > max_array {
            return Err(too_large("Size of array"));
        }
        produce(len.saturating_mul(std::mem::size_of::<Dynamic>()))?;
        let mut joined = a;
        joined.extend(b);
        Ok(joined)
    });
    engine.register_fn("+=", move |a: &mut Array, b: Array| -> Checked<()> {
        let len = a.len().saturating_add(b.len());
        if len > max_array {
            return Err(too_large("Size of array"));
        }
        produce(b.len().saturating_mul(std::mem::size_of::<Dynamic>()))?;
        a.extend(b);
        Ok(())
    });
    engine.register_fn(
        "pad",
        move |array: &mut Array, len: INT, item: Dynamic| -> Checked<()> {
            let Ok(len) = usize::try_from(len) else {
                return Ok(());
            };
            if len > max_array {
                return Err(too_large("Size of array"));
            }
            produce(
                len.saturating_sub(array.len())
                    .saturating_mul(std::mem::size_of::<Dynamic>()),
            )?;
            if len > array.len() {
                array.resize(len, item);
            }
            Ok(())
        },
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_size_of_a_replacement_is_known_before_it_is_made() {
        assert_eq!(replaced_len("aaa", "a", "bb"), 6);
        assert_eq!(replaced_len("abc", "", "-"), 7);
        assert_eq!(replaced_len("abc", "x", "yyyy"), 3);
        assert_eq!("abc".replace("", "-").len(), 7);
    }
}
