//! The lookup of [`REQUEST_BOUNDS`] and the walker that checks a request body against it. The
//! same for every spec, so it is written here once; the generated [`crate::spec`] holds the
//! table and re-exports these.

use crate::spec::{FieldBound, REQUEST_BOUNDS};

/// The bound of the field at `path` (array indices such as `[3]` are read as `[]`).
pub fn request_bound(path: &str) -> Option<&'static FieldBound> {
    let mut normal = String::with_capacity(path.len());
    let mut in_index = false;
    for c in path.chars() {
        match c {
            '[' => {
                in_index = true;
                normal.push_str("[]");
            }
            ']' => in_index = false,
            _ if in_index => {}
            _ => normal.push(c),
        }
    }
    REQUEST_BOUNDS.iter().find(|bound| bound.path == normal)
}

/// One value of a request body over a bound of the spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoundExcess {
    /// Path of the value, with its real indices (`items[2].filename`).
    pub path: String,
    /// What is wrong, such as `must be at most 255 characters`.
    pub problem: String,
}

impl std::fmt::Display for BoundExcess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.path, self.problem)
    }
}

/// Checks `value`, found at `path` of a request body (`""` for the whole body), and everything
/// inside it against [`REQUEST_BOUNDS`], adding one [`BoundExcess`] per value over a bound.
pub fn check_request_bounds(path: &str, value: &serde_json::Value, excess: &mut Vec<BoundExcess>) {
    let bound = request_bound(path);
    let mut add = |problem: String| {
        excess.push(BoundExcess {
            path: path.to_string(),
            problem,
        })
    };
    match value {
        serde_json::Value::String(text) => {
            if let Some(max) = bound.and_then(|b| b.max_length)
                && text.chars().count() > max
            {
                add(format!("must be at most {max} characters"));
            }
        }
        serde_json::Value::Array(items) => {
            if let Some(max) = bound.and_then(|b| b.max_items)
                && items.len() > max
            {
                add(format!("must have at most {max} items"));
            }
            for (i, item) in items.iter().enumerate() {
                check_request_bounds(&format!("{path}[{i}]"), item, excess);
            }
        }
        serde_json::Value::Object(members) => {
            let map = bound.and_then(|b| b.max_properties);
            if let Some(max) = map
                && members.len() > max
            {
                add(format!("must have at most {max} properties"));
            }
            for (key, member) in members {
                let child = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                match map {
                    // A free-form map: every value has the bound of `path.*`.
                    Some(_) => check_map_value(&child, &format!("{path}.*"), member, excess),
                    None => check_request_bounds(&child, member, excess),
                }
            }
        }
        _ => {}
    }
}

fn check_map_value(
    path: &str,
    pattern: &str,
    value: &serde_json::Value,
    excess: &mut Vec<BoundExcess>,
) {
    if let serde_json::Value::String(text) = value
        && let Some(max) = request_bound(pattern).and_then(|b| b.max_length)
        && text.chars().count() > max
    {
        excess.push(BoundExcess {
            path: path.to_string(),
            problem: format!("must be at most {max} characters"),
        });
    }
}

/// Checks a typed request body against [`REQUEST_BOUNDS`] as
/// [`check_request_bounds`] checks its JSON form, without building that form: the body is
/// walked through its `Serialize` implementation, the path is a stack of borrowed segments and
/// is written out only for a value over its bound. Nothing is allocated for a body within
/// its bounds (a free-form map's keys excepted).
///
/// `Err` means the body has a shape JSON cannot hold (such as a map with non-string keys);
/// nothing is added to `excess` then.
pub fn check_bounds<T: serde::Serialize + ?Sized>(
    value: &T,
    excess: &mut Vec<BoundExcess>,
) -> Result<(), UnsupportedShape> {
    let before = excess.len();
    let mut walker = Walker {
        segs: [Seg::Index(0); MAX_DEPTH],
        lens: [0; MAX_DEPTH + 1],
        depth: 0,
        keys: String::new(),
        excess,
    };
    let result = value.serialize(&mut walker);
    if result.is_err() {
        walker.excess.truncate(before);
    }
    result
}

/// The body had a shape JSON cannot hold.
#[derive(Debug)]
pub struct UnsupportedShape(String);

impl std::fmt::Display for UnsupportedShape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UnsupportedShape {}

impl serde::ser::Error for UnsupportedShape {
    fn custom<M: std::fmt::Display>(message: M) -> Self {
        Self(message.to_string())
    }
}

/// Deepest path followed; no bound of the spec is nearly this deep (a test checks).
const MAX_DEPTH: usize = 16;

/// One step of a path.
#[derive(Clone, Copy)]
enum Seg {
    /// A property of a struct.
    Key(&'static str),
    /// An element of an array (`[]` in a pattern).
    Index(usize),
    /// A member of a map, its key at `start..end` of [`Walker::keys`]; `star` for a free-form
    /// map (one with `maxProperties`), whose values have the bound of `path.*`.
    Member {
        start: usize,
        end: usize,
        star: bool,
    },
}

struct Walker<'e> {
    segs: [Seg; MAX_DEPTH],
    /// `lens[d]`: length of the first `d` segments written as a pattern (`a[].b`), to skip
    /// patterns of another length without comparing them.
    lens: [usize; MAX_DEPTH + 1],
    depth: usize,
    /// Keys of the maps on the current path.
    keys: String,
    excess: &'e mut Vec<BoundExcess>,
}

impl Walker<'_> {
    fn path(&self) -> &[Seg] {
        &self.segs[..self.depth.min(MAX_DEPTH)]
    }

    /// The bounds whose patterns are as long as the current path.
    fn same_length(&self) -> Option<&'static SameLength> {
        if self.depth > MAX_DEPTH {
            return None;
        }
        BY_LENGTH
            .get_or_init(index_by_length)
            .get(self.lens[self.depth])
    }

    /// The bound of the current path among `same`, without writing the path out.
    fn bound_in(&self, same: &SameLength) -> Option<&'static FieldBound> {
        same.bounds
            .iter()
            .map(|&i| &REQUEST_BOUNDS[usize::from(i)])
            .find(|bound| pattern_matches(bound.path, self.path(), &self.keys))
    }

    /// The `maxLength` of the current path, looked up only if a string of `len` bytes could
    /// be over it (a string has no more characters than bytes).
    fn max_length(&self, len: usize) -> Option<usize> {
        let same = self.same_length()?;
        if len <= same.shortest_max_length {
            return None;
        }
        self.bound_in(same).and_then(|b| b.max_length)
    }

    /// The `maxItems` of the current path.
    fn max_items(&self) -> Option<usize> {
        let same = self.same_length().filter(|same| same.any_max_items)?;
        self.bound_in(same).and_then(|b| b.max_items)
    }

    /// The `maxProperties` of the current path.
    fn max_properties(&self) -> Option<usize> {
        let same = self.same_length().filter(|same| same.any_max_properties)?;
        self.bound_in(same).and_then(|b| b.max_properties)
    }

    fn push(&mut self, seg: Seg) {
        if self.depth < MAX_DEPTH {
            let dot = usize::from(self.depth > 0 && !matches!(seg, Seg::Index(_)));
            let own = match seg {
                Seg::Key(key) => key.len(),
                Seg::Index(_) => 2,
                Seg::Member { star: true, .. } => 1,
                Seg::Member { start, end, .. } => end - start,
            };
            self.segs[self.depth] = seg;
            self.lens[self.depth + 1] = self.lens[self.depth] + dot + own;
        }
        self.depth += 1;
    }

    fn pop(&mut self) {
        self.depth -= 1;
        if self.depth < MAX_DEPTH
            && let Seg::Member { start, .. } = self.segs[self.depth]
        {
            self.keys.truncate(start);
        }
    }

    fn add(&mut self, problem: String) {
        let mut path = String::new();
        for (i, seg) in self.path().iter().enumerate() {
            match *seg {
                Seg::Key(key) => {
                    if i > 0 {
                        path.push('.');
                    }
                    path.push_str(key);
                }
                Seg::Index(index) => {
                    use std::fmt::Write as _;
                    let _ = write!(path, "[{index}]");
                }
                Seg::Member { start, end, .. } => {
                    if i > 0 {
                        path.push('.');
                    }
                    path.push_str(&self.keys[start..end]);
                }
            }
        }
        self.excess.push(BoundExcess { path, problem });
    }

    fn string(&mut self, text: &str) {
        if let Some(max) = self.max_length(text.len())
            && text.len() > max
            && text.chars().count() > max
        {
            self.add(format!("must be at most {max} characters"));
        }
    }

    fn too_many_items(&mut self, max: Option<usize>, count: usize) {
        if let Some(max) = max
            && count > max
        {
            self.add(format!("must have at most {max} items"));
        }
    }

    fn too_many_members(&mut self, max: Option<usize>, count: usize) {
        if let Some(max) = max
            && count > max
        {
            self.add(format!("must have at most {max} properties"));
        }
    }
}

/// The bounds whose patterns have one length, in table order, with what a lookup can skip on.
#[derive(Debug, Default, Clone)]
struct SameLength {
    /// Indices into [`REQUEST_BOUNDS`].
    bounds: Vec<u16>,
    /// The smallest `maxLength` among them (`usize::MAX` if none has one): a string no longer
    /// than this is within any of them, without a lookup.
    shortest_max_length: usize,
    any_max_items: bool,
    any_max_properties: bool,
}

/// [`REQUEST_BOUNDS`] by pattern length: a lookup compares only the patterns as long as the
/// path (usually none to three), and most lookups are skipped.
static BY_LENGTH: std::sync::OnceLock<Vec<SameLength>> = std::sync::OnceLock::new();

fn index_by_length() -> Vec<SameLength> {
    let longest = REQUEST_BOUNDS
        .iter()
        .map(|b| b.path.len())
        .max()
        .unwrap_or(0);
    let empty = SameLength {
        shortest_max_length: usize::MAX,
        ..SameLength::default()
    };
    let mut index = vec![empty; longest + 1];
    for (i, bound) in REQUEST_BOUNDS.iter().enumerate() {
        let same = &mut index[bound.path.len()];
        same.bounds
            .push(u16::try_from(i).expect("fewer than 65536 bounds"));
        if let Some(max) = bound.max_length {
            same.shortest_max_length = same.shortest_max_length.min(max);
        }
        same.any_max_items |= bound.max_items.is_some();
        same.any_max_properties |= bound.max_properties.is_some();
    }
    index
}

/// Whether `pattern` (`a.b`, `a[].b`, `a.*`) names `path`.
fn pattern_matches(pattern: &str, path: &[Seg], keys: &str) -> bool {
    let mut rest = pattern.as_bytes();
    for (i, seg) in path.iter().enumerate() {
        let dot = i > 0 && !matches!(seg, Seg::Index(_));
        if dot {
            match rest.split_first() {
                Some((b'.', tail)) => rest = tail,
                _ => return false,
            }
        }
        let expected: &[u8] = match *seg {
            Seg::Key(key) => key.as_bytes(),
            Seg::Index(_) => b"[]",
            Seg::Member { star: true, .. } => b"*",
            Seg::Member { start, end, .. } => &keys.as_bytes()[start..end],
        };
        match rest.strip_prefix(expected) {
            Some(tail) => rest = tail,
            None => return false,
        }
    }
    rest.is_empty()
}

/// A compound value being walked.
struct Compound<'w, 'e> {
    walker: &'w mut Walker<'e>,
    /// Elements or members seen.
    count: usize,
    /// The bound to check the count against at the end (an array or object whose length was
    /// not known up front).
    check_at_end: Option<(Check, usize)>,
    /// A free-form map: member values have the bound of `path.*`.
    star: bool,
    /// Entries pushed for a variant wrapper (`{"Variant": ...}`), popped at the end.
    wrapped: bool,
}

#[derive(Clone, Copy)]
enum Check {
    Items,
    Members,
}

impl<'w, 'e> Compound<'w, 'e> {
    fn seq(walker: &'w mut Walker<'e>, len: Option<usize>, wrapped: bool) -> Self {
        let max = walker.max_items();
        let mut check_at_end = None;
        match (len, max) {
            (Some(len), _) => walker.too_many_items(max, len),
            (None, Some(max)) => check_at_end = Some((Check::Items, max)),
            (None, None) => {}
        }
        Self {
            walker,
            count: 0,
            check_at_end,
            star: false,
            wrapped,
        }
    }

    fn object(walker: &'w mut Walker<'e>, len: Option<usize>, wrapped: bool) -> Self {
        let max = walker.max_properties();
        let mut check_at_end = None;
        match (len, max) {
            (Some(len), _) => walker.too_many_members(max, len),
            (None, Some(max)) => check_at_end = Some((Check::Members, max)),
            (None, None) => {}
        }
        Self {
            walker,
            count: 0,
            check_at_end,
            star: max.is_some(),
            wrapped,
        }
    }

    fn element<T: serde::Serialize + ?Sized>(&mut self, value: &T) -> Result<(), UnsupportedShape> {
        self.walker.push(Seg::Index(self.count));
        self.count += 1;
        let result = value.serialize(&mut *self.walker);
        self.walker.pop();
        result
    }

    fn field<T: serde::Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), UnsupportedShape> {
        self.count += 1;
        self.walker.push(Seg::Key(key));
        let result = value.serialize(&mut *self.walker);
        self.walker.pop();
        result
    }

    fn finish(self) -> Result<(), UnsupportedShape> {
        match self.check_at_end {
            Some((Check::Items, max)) => self.walker.too_many_items(Some(max), self.count),
            Some((Check::Members, max)) => self.walker.too_many_members(Some(max), self.count),
            None => {}
        }
        if self.wrapped {
            self.walker.pop();
        }
        Ok(())
    }
}

macro_rules! ignore_scalars {
    ($($method:ident($t:ty)),*) => {$(
        fn $method(self, _: $t) -> Result<(), UnsupportedShape> {
            Ok(())
        }
    )*};
}

impl<'w, 'e> serde::Serializer for &'w mut Walker<'e> {
    type Ok = ();
    type Error = UnsupportedShape;
    type SerializeSeq = Compound<'w, 'e>;
    type SerializeTuple = Compound<'w, 'e>;
    type SerializeTupleStruct = Compound<'w, 'e>;
    type SerializeTupleVariant = Compound<'w, 'e>;
    type SerializeMap = Compound<'w, 'e>;
    type SerializeStruct = Compound<'w, 'e>;
    type SerializeStructVariant = Compound<'w, 'e>;

    ignore_scalars!(
        serialize_bool(bool),
        serialize_i8(i8),
        serialize_i16(i16),
        serialize_i32(i32),
        serialize_i64(i64),
        serialize_i128(i128),
        serialize_u8(u8),
        serialize_u16(u16),
        serialize_u32(u32),
        serialize_u64(u64),
        serialize_u128(u128),
        serialize_f32(f32),
        serialize_f64(f64),
        serialize_unit_struct(&'static str)
    );

    fn serialize_char(self, v: char) -> Result<(), UnsupportedShape> {
        self.string(v.encode_utf8(&mut [0; 4]));
        Ok(())
    }

    fn serialize_str(self, v: &str) -> Result<(), UnsupportedShape> {
        self.string(v);
        Ok(())
    }

    fn collect_str<T: std::fmt::Display + ?Sized>(self, value: &T) -> Result<(), UnsupportedShape> {
        // Counted as written, not collected into a string.
        let Some(max) = self.max_length(usize::MAX) else {
            return Ok(());
        };
        struct Count(usize);
        impl std::fmt::Write for Count {
            fn write_str(&mut self, s: &str) -> std::fmt::Result {
                self.0 += s.chars().count();
                Ok(())
            }
        }
        let mut count = Count(0);
        let _ = std::fmt::write(&mut count, format_args!("{value}"));
        if count.0 > max {
            self.add(format!("must be at most {max} characters"));
        }
        Ok(())
    }

    fn serialize_bytes(self, v: &[u8]) -> Result<(), UnsupportedShape> {
        // JSON holds bytes as an array of numbers.
        let max = self.max_items();
        self.too_many_items(max, v.len());
        Ok(())
    }

    fn serialize_none(self) -> Result<(), UnsupportedShape> {
        Ok(())
    }

    fn serialize_some<T: serde::Serialize + ?Sized>(
        self,
        value: &T,
    ) -> Result<(), UnsupportedShape> {
        value.serialize(self)
    }

    fn serialize_unit(self) -> Result<(), UnsupportedShape> {
        Ok(())
    }

    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
    ) -> Result<(), UnsupportedShape> {
        self.string(variant);
        Ok(())
    }

    fn serialize_newtype_struct<T: serde::Serialize + ?Sized>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<(), UnsupportedShape> {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: serde::Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<(), UnsupportedShape> {
        // `{"Variant": value}`
        let mut object = Compound::object(self, Some(1), false);
        object.field(variant, value)?;
        object.finish()
    }

    fn serialize_seq(self, len: Option<usize>) -> Result<Compound<'w, 'e>, UnsupportedShape> {
        Ok(Compound::seq(self, len, false))
    }

    fn serialize_tuple(self, len: usize) -> Result<Compound<'w, 'e>, UnsupportedShape> {
        Ok(Compound::seq(self, Some(len), false))
    }

    fn serialize_tuple_struct(
        self,
        _: &'static str,
        len: usize,
    ) -> Result<Compound<'w, 'e>, UnsupportedShape> {
        Ok(Compound::seq(self, Some(len), false))
    }

    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Compound<'w, 'e>, UnsupportedShape> {
        // `{"Variant": [..]}`
        let max = self.max_properties();
        self.too_many_members(max, 1);
        self.push(Seg::Key(variant));
        Ok(Compound::seq(self, Some(len), true))
    }

    fn serialize_map(self, len: Option<usize>) -> Result<Compound<'w, 'e>, UnsupportedShape> {
        Ok(Compound::object(self, len, false))
    }

    fn serialize_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Compound<'w, 'e>, UnsupportedShape> {
        // The declared length counts skipped fields: count the fields actually written.
        Ok(Compound::object(self, None, false))
    }

    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        _: usize,
    ) -> Result<Compound<'w, 'e>, UnsupportedShape> {
        // `{"Variant": {..}}`
        let max = self.max_properties();
        self.too_many_members(max, 1);
        self.push(Seg::Key(variant));
        Ok(Compound::object(self, None, true))
    }
}

/// The serde compound traits whose items are elements (sequences and tuples) or named fields
/// (structs): each forwards to [`Compound::element`] or [`Compound::field`].
macro_rules! forward_compound {
    ($($trait:ident::$method:ident),* ; elements) => {$(
        impl serde::ser::$trait for Compound<'_, '_> {
            type Ok = ();
            type Error = UnsupportedShape;

            fn $method<T: serde::Serialize + ?Sized>(
                &mut self,
                value: &T,
            ) -> Result<(), UnsupportedShape> {
                self.element(value)
            }

            fn end(self) -> Result<(), UnsupportedShape> {
                self.finish()
            }
        }
    )*};
    ($($trait:ident),* ; fields) => {$(
        impl serde::ser::$trait for Compound<'_, '_> {
            type Ok = ();
            type Error = UnsupportedShape;

            fn serialize_field<T: serde::Serialize + ?Sized>(
                &mut self,
                key: &'static str,
                value: &T,
            ) -> Result<(), UnsupportedShape> {
                self.field(key, value)
            }

            fn end(self) -> Result<(), UnsupportedShape> {
                self.finish()
            }
        }
    )*};
}

forward_compound!(
    SerializeSeq::serialize_element,
    SerializeTuple::serialize_element,
    SerializeTupleStruct::serialize_field,
    SerializeTupleVariant::serialize_field;
    elements
);
forward_compound!(SerializeStruct, SerializeStructVariant; fields);

impl serde::ser::SerializeMap for Compound<'_, '_> {
    type Ok = ();
    type Error = UnsupportedShape;

    fn serialize_key<T: serde::Serialize + ?Sized>(
        &mut self,
        key: &T,
    ) -> Result<(), UnsupportedShape> {
        let start = self.walker.keys.len();
        key.serialize(KeyWriter(&mut self.walker.keys))?;
        let end = self.walker.keys.len();
        self.count += 1;
        self.walker.push(Seg::Member {
            start,
            end,
            star: self.star,
        });
        Ok(())
    }

    fn serialize_value<T: serde::Serialize + ?Sized>(
        &mut self,
        value: &T,
    ) -> Result<(), UnsupportedShape> {
        let result = if self.star {
            // A free-form map's values: only a string is checked, against `path.*`.
            value.serialize(StarValue(&mut *self.walker))
        } else {
            value.serialize(&mut *self.walker)
        };
        self.walker.pop();
        result
    }

    fn end(self) -> Result<(), UnsupportedShape> {
        self.finish()
    }
}

/// The value of a free-form map member: a string is checked against `path.*`, anything else
/// is not looked into (as [`check_request_bounds`] does).
struct StarValue<'w, 'e>(&'w mut Walker<'e>);

/// Appends a map key (a string, or a number or boolean written as one, as JSON keys are) to the
/// walker's key buffer.
struct KeyWriter<'k>(&'k mut String);

mod value_kinds {
    //! The two small serializers above, with everything they do not accept refused or ignored.

    use std::fmt::Write as _;

    use serde::ser::{Impossible, Serializer};

    use super::{KeyWriter, StarValue, UnsupportedShape};

    fn refuse<T>() -> Result<T, UnsupportedShape> {
        Err(UnsupportedShape("a map key must be a string".into()))
    }

    macro_rules! key_display {
        ($($method:ident($t:ty)),*) => {$(
            fn $method(self, v: $t) -> Result<(), UnsupportedShape> {
                let _ = write!(self.0, "{v}");
                Ok(())
            }
        )*};
    }

    macro_rules! key_refuse {
        ($($method:ident($($t:ty),*)),*) => {$(
            fn $method(self, $(_: $t),*) -> Result<(), UnsupportedShape> {
                refuse()
            }
        )*};
    }

    impl Serializer for KeyWriter<'_> {
        type Ok = ();
        type Error = UnsupportedShape;
        type SerializeSeq = Impossible<(), UnsupportedShape>;
        type SerializeTuple = Impossible<(), UnsupportedShape>;
        type SerializeTupleStruct = Impossible<(), UnsupportedShape>;
        type SerializeTupleVariant = Impossible<(), UnsupportedShape>;
        type SerializeMap = Impossible<(), UnsupportedShape>;
        type SerializeStruct = Impossible<(), UnsupportedShape>;
        type SerializeStructVariant = Impossible<(), UnsupportedShape>;

        key_display!(
            serialize_bool(bool),
            serialize_i8(i8),
            serialize_i16(i16),
            serialize_i32(i32),
            serialize_i64(i64),
            serialize_i128(i128),
            serialize_u8(u8),
            serialize_u16(u16),
            serialize_u32(u32),
            serialize_u64(u64),
            serialize_u128(u128),
            serialize_char(char),
            serialize_str(&str)
        );
        key_refuse!(
            serialize_f32(f32),
            serialize_f64(f64),
            serialize_bytes(&[u8]),
            serialize_none(),
            serialize_unit(),
            serialize_unit_struct(&'static str)
        );

        fn serialize_unit_variant(
            self,
            _: &'static str,
            _: u32,
            variant: &'static str,
        ) -> Result<(), UnsupportedShape> {
            self.0.push_str(variant);
            Ok(())
        }

        fn serialize_some<T: serde::Serialize + ?Sized>(
            self,
            _: &T,
        ) -> Result<(), UnsupportedShape> {
            refuse()
        }

        fn serialize_newtype_struct<T: serde::Serialize + ?Sized>(
            self,
            _: &'static str,
            value: &T,
        ) -> Result<(), UnsupportedShape> {
            value.serialize(self)
        }

        fn serialize_newtype_variant<T: serde::Serialize + ?Sized>(
            self,
            _: &'static str,
            _: u32,
            _: &'static str,
            _: &T,
        ) -> Result<(), UnsupportedShape> {
            refuse()
        }

        fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, UnsupportedShape> {
            refuse()
        }

        fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, UnsupportedShape> {
            refuse()
        }

        fn serialize_tuple_struct(
            self,
            _: &'static str,
            _: usize,
        ) -> Result<Self::SerializeTupleStruct, UnsupportedShape> {
            refuse()
        }

        fn serialize_tuple_variant(
            self,
            _: &'static str,
            _: u32,
            _: &'static str,
            _: usize,
        ) -> Result<Self::SerializeTupleVariant, UnsupportedShape> {
            refuse()
        }

        fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, UnsupportedShape> {
            refuse()
        }

        fn serialize_struct(
            self,
            _: &'static str,
            _: usize,
        ) -> Result<Self::SerializeStruct, UnsupportedShape> {
            refuse()
        }

        fn serialize_struct_variant(
            self,
            _: &'static str,
            _: u32,
            _: &'static str,
            _: usize,
        ) -> Result<Self::SerializeStructVariant, UnsupportedShape> {
            refuse()
        }
    }

    macro_rules! star_ignore {
        ($($method:ident($($t:ty),*)),*) => {$(
            fn $method(self, $(_: $t),*) -> Result<(), UnsupportedShape> {
                Ok(())
            }
        )*};
    }

    impl Serializer for StarValue<'_, '_> {
        type Ok = ();
        type Error = UnsupportedShape;
        type SerializeSeq = Impossible<(), UnsupportedShape>;
        type SerializeTuple = Impossible<(), UnsupportedShape>;
        type SerializeTupleStruct = Impossible<(), UnsupportedShape>;
        type SerializeTupleVariant = Impossible<(), UnsupportedShape>;
        type SerializeMap = Impossible<(), UnsupportedShape>;
        type SerializeStruct = Impossible<(), UnsupportedShape>;
        type SerializeStructVariant = Impossible<(), UnsupportedShape>;

        star_ignore!(
            serialize_bool(bool),
            serialize_i8(i8),
            serialize_i16(i16),
            serialize_i32(i32),
            serialize_i64(i64),
            serialize_i128(i128),
            serialize_u8(u8),
            serialize_u16(u16),
            serialize_u32(u32),
            serialize_u64(u64),
            serialize_u128(u128),
            serialize_f32(f32),
            serialize_f64(f64),
            serialize_bytes(&[u8]),
            serialize_none(),
            serialize_unit(),
            serialize_unit_struct(&'static str)
        );

        fn serialize_char(self, v: char) -> Result<(), UnsupportedShape> {
            self.0.string(v.encode_utf8(&mut [0; 4]));
            Ok(())
        }

        fn serialize_str(self, v: &str) -> Result<(), UnsupportedShape> {
            self.0.string(v);
            Ok(())
        }

        fn collect_str<T: std::fmt::Display + ?Sized>(
            self,
            value: &T,
        ) -> Result<(), UnsupportedShape> {
            (&mut *self.0).collect_str(value)
        }

        fn serialize_unit_variant(
            self,
            _: &'static str,
            _: u32,
            variant: &'static str,
        ) -> Result<(), UnsupportedShape> {
            self.0.string(variant);
            Ok(())
        }

        fn serialize_some<T: serde::Serialize + ?Sized>(
            self,
            value: &T,
        ) -> Result<(), UnsupportedShape> {
            value.serialize(self)
        }

        fn serialize_newtype_struct<T: serde::Serialize + ?Sized>(
            self,
            _: &'static str,
            value: &T,
        ) -> Result<(), UnsupportedShape> {
            value.serialize(self)
        }

        fn serialize_newtype_variant<T: serde::Serialize + ?Sized>(
            self,
            _: &'static str,
            _: u32,
            _: &'static str,
            _: &T,
        ) -> Result<(), UnsupportedShape> {
            Ok(())
        }

        // An array or object inside a free-form map is refused as a shape this walker does
        // not follow; callers then check the JSON form with `check_request_bounds`.
        fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, UnsupportedShape> {
            refuse_compound()
        }

        fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, UnsupportedShape> {
            refuse_compound()
        }

        fn serialize_tuple_struct(
            self,
            _: &'static str,
            _: usize,
        ) -> Result<Self::SerializeTupleStruct, UnsupportedShape> {
            refuse_compound()
        }

        fn serialize_tuple_variant(
            self,
            _: &'static str,
            _: u32,
            _: &'static str,
            _: usize,
        ) -> Result<Self::SerializeTupleVariant, UnsupportedShape> {
            refuse_compound()
        }

        fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, UnsupportedShape> {
            refuse_compound()
        }

        fn serialize_struct(
            self,
            _: &'static str,
            _: usize,
        ) -> Result<Self::SerializeStruct, UnsupportedShape> {
            refuse_compound()
        }

        fn serialize_struct_variant(
            self,
            _: &'static str,
            _: u32,
            _: &'static str,
            _: usize,
        ) -> Result<Self::SerializeStructVariant, UnsupportedShape> {
            refuse_compound()
        }
    }

    fn refuse_compound<T>() -> Result<T, UnsupportedShape> {
        Err(UnsupportedShape(
            "a free-form map value is an array or object".into(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::types;

    /// What the JSON walker finds in `value`'s JSON form.
    fn by_json<T: serde::Serialize>(value: &T) -> Vec<BoundExcess> {
        let mut excess = Vec::new();
        check_request_bounds("", &serde_json::to_value(value).unwrap(), &mut excess);
        excess
    }

    fn typed<T: serde::Serialize>(value: &T) -> Vec<BoundExcess> {
        let mut excess = Vec::new();
        check_bounds(value, &mut excess).unwrap();
        excess
    }

    fn user(email: &str, namespace: &str, references: usize) -> types::CreateUserRequest {
        let refs: Vec<_> = (0..references)
            .map(|i| json!({"namespace": if i == 1 { namespace } else { "SIS" }, "externalId": format!("id-{i}")}))
            .collect();
        serde_json::from_value(json!({
            "identity": {"email": email, "firstName": "Ada", "lastName": "Lovelace", "roleName": "student"},
            "externalReferences": refs,
            "profile": {"phone": "+1-555", "address": {"city": "Boston", "dateOfBirth": "2000-05-15"}}
        }))
        .unwrap()
    }

    #[test]
    fn a_body_within_its_bounds_has_no_excess_either_way() {
        let body = user("ada@example.edu", "LMS", 2);
        assert!(typed(&body).is_empty());
        assert!(by_json(&body).is_empty());
    }

    #[test]
    fn the_typed_walk_finds_what_the_json_walk_finds() {
        let long_email = format!("{}@example.edu", "a".repeat(300));
        let mut body = user(&long_email, "LMS", 21);
        body.identity.last_name = "l".repeat(201);
        let found = typed(&body);
        assert_eq!(found, by_json(&body));
        let paths: Vec<_> = found.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(
            paths,
            ["externalReferences", "identity.email", "identity.lastName"]
        );
        assert_eq!(found[0].problem, "must have at most 20 items");
    }

    #[test]
    fn a_short_value_over_a_short_bound_is_found() {
        // `profile.currency` allows 3 characters: the smallest bound, never skipped.
        let mut body = user("ada@example.edu", "LMS", 1);
        body.profile.as_mut().unwrap().currency = Some("EURO".into());
        let found = typed(&body);
        assert_eq!(found, by_json(&body));
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].path, "profile.currency");
        body.profile.as_mut().unwrap().currency = Some("EUR".into());
        assert!(typed(&body).is_empty());
    }

    #[test]
    fn characters_not_bytes_are_counted() {
        // 200 two-byte characters: within `identity.firstName`'s 200.
        let mut body = user("ada@example.edu", "LMS", 1);
        body.identity.first_name = "é".repeat(200);
        assert!(typed(&body).is_empty());
        body.identity.first_name.push('é');
        assert_eq!(typed(&body), by_json(&body));
        assert_eq!(typed(&body)[0].path, "identity.firstName");
    }

    #[test]
    fn free_form_maps_are_bounded_by_count_and_by_path_star() {
        let metadata: serde_json::Map<String, serde_json::Value> = (0..60)
            .map(|i| {
                (
                    format!("k{i:02}"),
                    json!(if i == 7 { "v".repeat(1100) } else { "v".into() }),
                )
            })
            .collect();
        let body = json!({"items": [
            {"itemId": "a", "metadata": {"ok": "fine"}},
            {"itemId": "b".repeat(129), "metadata": metadata},
        ]});
        let found = typed(&body);
        assert_eq!(found, by_json(&body));
        let paths: Vec<_> = found.iter().map(|e| e.path.as_str()).collect();
        assert!(paths.contains(&"items[1].itemId"), "{paths:?}");
        assert!(paths.contains(&"items[1].metadata"), "{paths:?}");
        assert!(paths.contains(&"items[1].metadata.k07"), "{paths:?}");
    }

    #[test]
    fn an_object_inside_a_free_form_map_is_refused_not_misread() {
        let body = json!({"verificationMetadata": {"nested": {"a": 1}}});
        let mut excess = vec![];
        assert!(check_bounds(&body, &mut excess).is_err());
        assert!(excess.is_empty());
    }

    #[test]
    fn every_bounded_path_is_within_the_walkers_depth() {
        for bound in REQUEST_BOUNDS {
            let depth = bound.path.split('.').count() + bound.path.matches("[]").count();
            assert!(depth < MAX_DEPTH, "{}", bound.path);
        }
    }
}
