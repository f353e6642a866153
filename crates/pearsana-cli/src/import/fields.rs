//! Per-row field checks that collect every problem of a row instead of stopping at the first.

use chrono::NaiveDate;
use csv::StringRecord;

use super::csv_input::ColumnIndex;

/// Reads the fields of one row, remembering every problem found.
pub struct Fields<'a> {
    index: &'a ColumnIndex,
    record: &'a StringRecord,
    problems: Vec<String>,
}

impl<'a> Fields<'a> {
    /// Starts checking `record`.
    pub fn new(index: &'a ColumnIndex, record: &'a StringRecord) -> Self {
        Self {
            index,
            record,
            problems: Vec::new(),
        }
    }

    /// Notes a problem with `column`.
    pub fn problem(&mut self, column: &str, message: impl std::fmt::Display) {
        self.problems.push(format!("{column}: {message}"));
    }

    /// The trimmed value of an optional column.
    pub fn optional(&self, column: &str) -> Option<String> {
        self.index.get(self.record, column).map(str::to_string)
    }

    /// The trimmed value of a required column; notes a problem and returns "" when blank.
    pub fn required(&mut self, column: &str) -> String {
        match self.optional(column) {
            Some(value) => value,
            None => {
                self.problem(column, "is required");
                String::new()
            }
        }
    }

    /// A required email address, lowercased.
    pub fn email(&mut self, column: &str) -> String {
        let value = self.required(column);
        if !value.is_empty() && !is_plausible_email(&value) {
            self.problem(
                column,
                format_args!("{value:?} is not a valid email address"),
            );
        }
        value.to_lowercase()
    }

    /// An optional `YYYY-MM-DD` date.
    pub fn date(&mut self, column: &str) -> Option<NaiveDate> {
        let value = self.optional(column)?;
        match NaiveDate::parse_from_str(&value, "%Y-%m-%d") {
            Ok(date) => Some(date),
            Err(_) => {
                self.problem(
                    column,
                    format_args!("{value:?} is not a date in YYYY-MM-DD form"),
                );
                None
            }
        }
    }

    /// Ends the checks: the value when no problem was found, else every problem.
    pub fn finish<T>(self, value: T) -> Result<T, Vec<String>> {
        if self.problems.is_empty() {
            Ok(value)
        } else {
            Err(self.problems)
        }
    }
}

/// A deliberately permissive syntax check (the server has the final word): one `@`, a
/// non-empty local part, a dotted domain with non-empty labels, no whitespace.
pub fn is_plausible_email(value: &str) -> bool {
    let Some((local, domain)) = value.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.contains('@')
        && !value.chars().any(char::is_whitespace)
        && domain.contains('.')
        && domain.split('.').all(|label| !label.is_empty())
}

#[cfg(test)]
mod tests {
    use super::super::csv_input::Column;
    use super::*;

    #[test]
    fn emails() {
        for ok in ["a@b.org", "first.last+tag@uni.ac.uk"] {
            assert!(is_plausible_email(ok), "{ok}");
        }
        for bad in [
            "",
            "a",
            "a@",
            "@b.org",
            "a@b",
            "a@@b.org",
            "a b@c.org",
            "a@b..org",
            "a@.org",
        ] {
            assert!(!is_plausible_email(bad), "{bad}");
        }
    }

    #[test]
    fn every_problem_of_a_row_is_collected() {
        let columns = [
            Column::required("email"),
            Column::required("firstName"),
            Column::optional("dob"),
        ];
        let index = ColumnIndex::resolve(
            &StringRecord::from(vec!["email", "firstName", "dob"]),
            &columns,
        )
        .unwrap();
        let record = StringRecord::from(vec!["nope", "", "2000-13-01"]);
        let mut fields = Fields::new(&index, &record);
        fields.email("email");
        fields.required("firstName");
        fields.date("dob");
        let problems = fields.finish(()).unwrap_err();
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(problems[0].starts_with("email:"));
        assert_eq!(problems[1], "firstName: is required");
        assert!(problems[2].contains("YYYY-MM-DD"));
    }
}
