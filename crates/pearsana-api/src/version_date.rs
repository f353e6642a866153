//! Reading an API version date by the spec's rule ([`VERSION_DATE_PATTERN`](crate::spec::VERSION_DATE_PATTERN): `YYYY-MM-DD`,
//! exactly [`VERSION_DATE_LEN`] characters, a real calendar day). The same for every spec the
//! generator accepts (it refuses any other pattern), so it is written here once; the generated
//! [`crate::spec`] holds the constants and re-exports this.

use chrono::NaiveDate;

use crate::spec::{VERSION_DATE_FORMAT, VERSION_DATE_LEN};

/// The date `text` names when it matches
/// [`VERSION_DATE_PATTERN`](crate::spec::VERSION_DATE_PATTERN) and is a real day; `None`
/// otherwise. `chrono`'s format alone would accept `2026- 1-30` (a space-padded month), which
/// the pattern refuses.
///
/// ```
/// use pearsana_api::spec::parse_version_date;
///
/// assert!(parse_version_date("2026-01-30").is_some());
/// for bad in ["2026-1-30", "2026- 1-30", "+2026-01-30", "2026-02-30", "2026-01-30 "] {
///     assert!(parse_version_date(bad).is_none(), "{bad}");
/// }
/// ```
pub fn parse_version_date(text: &str) -> Option<NaiveDate> {
    let bytes = text.as_bytes();
    let shape = bytes.len() == VERSION_DATE_LEN
        && bytes.iter().enumerate().all(|(i, b)| match i {
            4 | 7 => *b == b'-',
            _ => b.is_ascii_digit(),
        });
    if !shape {
        return None;
    }
    NaiveDate::parse_from_str(text, VERSION_DATE_FORMAT).ok()
}
