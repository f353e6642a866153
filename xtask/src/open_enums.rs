//! Open enums: every enumerated value set of the spec becomes a Rust enum with the known
//! values and an opaque `Unknown` variant that keeps any other value as sent.
//!
//! Two steps, both driven by the spec alone:
//!
//! 1. [`name_extensible_enums`] rewrites the parsed spec (never the committed YAML) so that
//!    every inline string schema with `x-extensible-enum` becomes a named `enum` schema that
//!    progenitor turns into a Rust enum (or a reference to an existing enum schema with the
//!    same values). Without it those fields are bare `String`s.
//! 2. [`OpenEnums`] rewrites progenitor's output: each generated unit-only enum gets the
//!    `Unknown(crate::UnknownValue)` variant, `#[non_exhaustive]`, and hand-rolled `Display`,
//!    `FromStr`, `From<&str>`, serde and `JsonSchema` impls that accept any string, in place
//!    of typify's derives and conversions that reject values they do not know.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{Result, bail};
use openapiv3::{OpenAPI, ReferenceOr, Schema, SchemaKind, StringType, Type};
use quote::{format_ident, quote};

/// The extension that marks a string schema's values as an open set.
const EXTENSIBLE: &str = "x-extensible-enum";

/// Rewrites `spec` so that every `x-extensible-enum` string becomes an `enum` schema, and
/// returns the names of the component schemas whose value set is open by the spec's own
/// words (their JSON Schema says `x-extensible-enum` rather than `enum`).
///
/// An inline property schema `Parent.property` becomes a reference: to an existing enum
/// component with exactly the same values when there is one, else to a new component named
/// `ParentProperty` (the name typify would give the inline type). A component schema with
/// `x-extensible-enum` gets the values as its `enum` in place.
pub fn name_extensible_enums(spec: &mut OpenAPI) -> Result<BTreeSet<String>> {
    let mut open = BTreeSet::new();
    let Some(components) = spec.components.as_mut() else {
        return Ok(open);
    };
    // Closed enum components, by their value list, for reuse.
    let mut by_values: BTreeMap<Vec<String>, String> = BTreeMap::new();
    for (name, schema) in &components.schemas {
        if let ReferenceOr::Item(schema) = schema
            && let SchemaKind::Type(Type::String(string)) = &schema.schema_kind
            && !string.enumeration.is_empty()
        {
            let values: Vec<String> = string.enumeration.iter().flatten().cloned().collect();
            by_values.entry(values).or_insert_with(|| name.clone());
        }
    }
    let mut added: Vec<(String, String, Schema)> = Vec::new();
    let names: Vec<String> = components.schemas.keys().cloned().collect();
    for name in names {
        let Some(ReferenceOr::Item(schema)) = components.schemas.get_mut(&name) else {
            continue;
        };
        if let Some(values) = extensible_values(schema)? {
            let SchemaKind::Type(Type::String(string)) = &mut schema.schema_kind else {
                unreachable!("extensible_values only answers for strings");
            };
            string.enumeration = values.into_iter().map(Some).collect();
            schema.schema_data.extensions.shift_remove(EXTENSIBLE);
            open.insert(name.clone());
            continue;
        }
        name_inline(&name, schema, &by_values, &mut added, &mut open)?;
    }
    // Identical inline sets under the same property name (typify would merge them into one
    // type named after the first parent) share one type named after the property.
    let renames = shared_names(&added, &components.schemas);
    if !renames.is_empty() {
        for schema in components.schemas.values_mut() {
            if let ReferenceOr::Item(schema) = schema {
                rename_refs(schema, &renames);
            }
        }
        let mut seen = BTreeSet::new();
        added.retain_mut(|(name, _, _)| {
            if let Some(new) = renames.get(name) {
                open.remove(name);
                open.insert(new.clone());
                *name = new.clone();
            }
            seen.insert(name.clone())
        });
    }
    for (name, _, schema) in added {
        if components.schemas.contains_key(&name) {
            bail!(
                "the inline open enum {name} would replace the component schema of the same \
                 name; rename one of them in the spec"
            );
        }
        components.schemas.insert(name, ReferenceOr::Item(schema));
    }
    Ok(open)
}

/// The values of a string schema with `x-extensible-enum` (and no `enum`), if it is one.
fn extensible_values(schema: &Schema) -> Result<Option<Vec<String>>> {
    let Some(extension) = schema.schema_data.extensions.get(EXTENSIBLE) else {
        return Ok(None);
    };
    let SchemaKind::Type(Type::String(string)) = &schema.schema_kind else {
        bail!("{EXTENSIBLE} is only supported on string schemas");
    };
    if !string.enumeration.is_empty() {
        bail!("a schema has both `enum` and {EXTENSIBLE}; keep one");
    }
    let Some(values) = extension.as_array() else {
        bail!("{EXTENSIBLE} must be a list of strings");
    };
    let values: Option<Vec<String>> = values
        .iter()
        .map(|v| v.as_str().map(str::to_owned))
        .collect();
    match values {
        Some(values) if !values.is_empty() => Ok(Some(values)),
        _ => bail!("{EXTENSIBLE} must be a non-empty list of strings"),
    }
}

/// Replaces the extensible inline schemas below `schema` (named `parent`) by references.
fn name_inline(
    parent: &str,
    schema: &mut Schema,
    by_values: &BTreeMap<Vec<String>, String>,
    added: &mut Vec<(String, String, Schema)>,
    open: &mut BTreeSet<String>,
) -> Result<()> {
    match &mut schema.schema_kind {
        SchemaKind::Type(Type::Object(object)) => {
            for (property, slot) in object.properties.iter_mut() {
                let name = format!("{parent}{}", pascal(property));
                name_slot(&name, property, slot, by_values, added, open)?;
            }
        }
        SchemaKind::Type(Type::Array(array)) => {
            if let Some(items) = array.items.as_mut() {
                name_slot(&format!("{parent}Item"), "", items, by_values, added, open)?;
            }
        }
        SchemaKind::AllOf { all_of: list }
        | SchemaKind::OneOf { one_of: list }
        | SchemaKind::AnyOf { any_of: list } => {
            for part in list.iter_mut() {
                if let ReferenceOr::Item(part) = part {
                    name_inline(parent, part, by_values, added, open)?;
                }
            }
        }
        _ => {}
    }
    Ok(())
}

fn name_slot(
    name: &str,
    property: &str,
    slot: &mut ReferenceOr<Box<Schema>>,
    by_values: &BTreeMap<Vec<String>, String>,
    added: &mut Vec<(String, String, Schema)>,
    open: &mut BTreeSet<String>,
) -> Result<()> {
    let ReferenceOr::Item(schema) = slot else {
        return Ok(());
    };
    let Some(values) = extensible_values(schema)? else {
        return name_inline(name, schema, by_values, added, open);
    };
    if schema.schema_data.nullable {
        bail!("{name}: a nullable {EXTENSIBLE} is not supported by the open enum transform");
    }
    let target = match by_values.get(&values) {
        Some(existing) => existing.clone(),
        None => {
            let mut data = schema.schema_data.clone();
            data.extensions.shift_remove(EXTENSIBLE);
            data.example = None;
            let named = Schema {
                schema_data: data,
                schema_kind: SchemaKind::Type(Type::String(StringType {
                    enumeration: values.into_iter().map(Some).collect(),
                    ..Default::default()
                })),
            };
            added.push((name.to_owned(), property.to_owned(), named));
            open.insert(name.to_owned());
            name.to_owned()
        }
    };
    *slot = ReferenceOr::Reference {
        reference: format!("#/components/schemas/{target}"),
    };
    Ok(())
}

/// Renames (old → new) for groups of added schemas that are identical and belong to
/// properties of the same name, when the property's own name is free.
fn shared_names(
    added: &[(String, String, Schema)],
    existing: &indexmap::IndexMap<String, ReferenceOr<Schema>>,
) -> BTreeMap<String, String> {
    let mut groups: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    for (name, property, schema) in added {
        if property.is_empty() {
            continue;
        }
        // typify merges identical schemas into one type named after the first parent.
        let key = format!(
            "{property}\u{0}{}",
            serde_json::to_string(schema).unwrap_or_default()
        );
        groups.entry(key).or_default().push(name);
    }
    let taken: BTreeSet<&str> = existing
        .keys()
        .map(String::as_str)
        .chain(added.iter().map(|(name, _, _)| name.as_str()))
        .collect();
    let mut renames = BTreeMap::new();
    for (key, names) in groups {
        let property = key.split('\u{0}').next().unwrap_or_default();
        let shared = pascal(property);
        if names.len() > 1 && !taken.contains(shared.as_str()) {
            for name in names {
                renames.insert(name.to_owned(), shared.clone());
            }
        }
    }
    renames
}

/// Points references to a renamed schema at its new name.
fn rename_refs(schema: &mut Schema, renames: &BTreeMap<String, String>) {
    let mut fix = |slot: &mut ReferenceOr<Box<Schema>>| match slot {
        ReferenceOr::Reference { reference } => {
            if let Some(new) = reference
                .strip_prefix("#/components/schemas/")
                .and_then(|old| renames.get(old))
            {
                *reference = format!("#/components/schemas/{new}");
            }
        }
        ReferenceOr::Item(inner) => rename_refs(inner, renames),
    };
    match &mut schema.schema_kind {
        SchemaKind::Type(Type::Object(object)) => object.properties.values_mut().for_each(&mut fix),
        SchemaKind::Type(Type::Array(array)) => array.items.iter_mut().for_each(&mut fix),
        SchemaKind::AllOf { all_of: list }
        | SchemaKind::OneOf { one_of: list }
        | SchemaKind::AnyOf { any_of: list } => {
            for part in list.iter_mut() {
                if let ReferenceOr::Item(part) = part {
                    rename_refs(part, renames);
                }
            }
        }
        _ => {}
    }
}

/// `userState` → `UserState`, `verification_intent` → `VerificationIntent`.
fn pascal(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut upper = true;
    for c in name.chars() {
        if !c.is_ascii_alphanumeric() {
            upper = true;
            continue;
        }
        if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// The AST rewrite of step 2. `open` names the enums whose spec schema is extensible.
pub struct OpenEnums {
    /// Enums whose JSON Schema keeps the values as `x-extensible-enum`.
    pub open: BTreeSet<String>,
}

/// One generated enum to open.
struct Found {
    name: syn::Ident,
    /// Variant identifier and wire value, in spec order.
    variants: Vec<(syn::Ident, String)>,
    unknown: syn::Ident,
    description: Option<String>,
}

impl OpenEnums {
    /// Rewrites the `types` module of `file` in place.
    pub fn apply(&self, file: &mut syn::File) -> Result<()> {
        for item in &mut file.items {
            if let syn::Item::Mod(module) = item
                && module.ident == "types"
                && let Some((_, items)) = module.content.as_mut()
            {
                self.rewrite(items)?;
            }
        }
        Ok(())
    }

    fn rewrite(&self, items: &mut Vec<syn::Item>) -> Result<()> {
        let mut found = Vec::new();
        for item in items.iter_mut() {
            if let syn::Item::Enum(item) = item
                && let Some(one) = open_enum(item)?
            {
                found.push(one);
            }
        }
        let names: BTreeSet<String> = found.iter().map(|f| f.name.to_string()).collect();
        // typify's Display, FromStr and TryFrom impls reject unknown values: replaced below.
        items.retain(|item| {
            let syn::Item::Impl(imp) = item else {
                return true;
            };
            let Some((_, trait_path, _)) = &imp.trait_ else {
                return true;
            };
            let replaced = trait_path.segments.last().is_some_and(|s| {
                matches!(
                    s.ident.to_string().as_str(),
                    "Display" | "FromStr" | "TryFrom"
                )
            });
            !(replaced && names.contains(&type_name(&imp.self_ty)))
        });
        // Each enum's impls go right after it, where a reader of the generated code looks.
        let mut impls_of: BTreeMap<String, Vec<syn::Item>> = BTreeMap::new();
        for one in &found {
            let open = self.open.contains(&one.name.to_string());
            let file: syn::File = syn::parse2(impls(one, open))?;
            impls_of.insert(one.name.to_string(), file.items);
        }
        let mut out = Vec::with_capacity(items.len() + impls_of.len() * 8);
        for item in items.drain(..) {
            let name = match &item {
                syn::Item::Enum(item) => Some(item.ident.to_string()),
                _ => None,
            };
            out.push(item);
            if let Some(extra) = name.and_then(|name| impls_of.remove(&name)) {
                out.extend(extra);
            }
        }
        *items = out;
        Ok(())
    }
}

fn type_name(ty: &syn::Type) -> String {
    match ty {
        syn::Type::Path(path) => path
            .path
            .segments
            .last()
            .map(|s| s.ident.to_string())
            .unwrap_or_default(),
        _ => String::new(),
    }
}

/// Opens one enum if it is a string value set (unit variants, serde derives); returns what
/// the impls need.
fn open_enum(item: &mut syn::ItemEnum) -> Result<Option<Found>> {
    let derives_serde = item.attrs.iter().any(|a| {
        a.path().is_ident("derive") && a.meta.to_token_stream_string().contains("Deserialize")
    });
    if !derives_serde
        || item.variants.is_empty()
        || item
            .variants
            .iter()
            .any(|v| !matches!(v.fields, syn::Fields::Unit))
    {
        return Ok(None);
    }
    let mut variants = Vec::new();
    for variant in &mut item.variants {
        let wire = serde_rename(&variant.attrs).unwrap_or_else(|| variant.ident.to_string());
        variant.attrs.retain(|a| !a.path().is_ident("serde"));
        let doc = format!(" `{wire}`");
        variant.attrs.insert(0, syn::parse_quote!(#[doc = #doc]));
        variants.push((variant.ident.clone(), wire));
    }
    let unknown = ["Unknown", "UnknownValue", "Unrecognized"]
        .into_iter()
        .find(|candidate| !item.variants.iter().any(|v| v.ident == candidate))
        .map(|name| format_ident!("{name}"));
    let Some(unknown) = unknown else {
        bail!("{}: no free name for the unknown variant", item.ident);
    };
    let description = doc_text(&item.attrs);
    // Keep the std derives that still hold; serde and schemars get impls below, and the
    // unknown payload is not `Copy`.
    item.attrs.retain(|a| !a.path().is_ident("derive"));
    item.attrs.push(syn::parse_quote!(
        #[derive(Clone, Debug, Eq, Hash, Ord, PartialEq, PartialOrd)]
    ));
    item.attrs.push(syn::parse_quote!(#[non_exhaustive]));
    let name = item.ident.clone();
    let text = format!(
        "\n An open set: a value this version of the crate does not know decodes as \
         [`{name}::{unknown}`] and is sent back unchanged. Match the values you handle and end \
         with a wildcard arm (`_ =>`) rather than `{name}::{unknown}(_)`: a value that a later \
         version knows moves from `{unknown}` to a variant of its own, and only the wildcard \
         keeps catching it. [`{name}::as_str`] gives the value as sent."
    );
    // The note goes right after the description, before the derives.
    let at = item
        .attrs
        .iter()
        .rposition(|a| a.path().is_ident("doc"))
        .map_or(0, |i| i + 1);
    for (offset, line) in text.lines().enumerate() {
        item.attrs
            .insert(at + offset, syn::parse_quote!(#[doc = #line]));
    }
    let unknown_doc = format!(
        " A value this version of the crate does not know, kept as sent (read it with \
         [`{name}::as_str`]). Do not match on this variant: see the enum's documentation."
    );
    item.variants.push(syn::parse_quote!(
        #[doc = #unknown_doc]
        #unknown(crate::UnknownValue)
    ));
    Ok(Some(Found {
        name,
        variants,
        unknown,
        description,
    }))
}

trait MetaText {
    fn to_token_stream_string(&self) -> String;
}

impl MetaText for syn::Meta {
    fn to_token_stream_string(&self) -> String {
        quote!(#self).to_string()
    }
}

/// The value of `#[serde(rename = "...")]`, if present.
fn serde_rename(attrs: &[syn::Attribute]) -> Option<String> {
    let mut rename = None;
    for attr in attrs.iter().filter(|a| a.path().is_ident("serde")) {
        let _ = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("rename") {
                let value: syn::LitStr = meta.value()?.parse()?;
                rename = Some(value.value());
            }
            Ok(())
        });
    }
    rename
}

/// The documentation text of an item, lines joined.
fn doc_text(attrs: &[syn::Attribute]) -> Option<String> {
    let lines: Vec<String> = attrs
        .iter()
        .filter_map(|attr| {
            let syn::Meta::NameValue(meta) = &attr.meta else {
                return None;
            };
            if !meta.path.is_ident("doc") {
                return None;
            }
            match &meta.value {
                syn::Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Str(text),
                    ..
                }) => Some(text.value().trim().to_owned()),
                _ => None,
            }
        })
        .collect();
    (!lines.is_empty()).then(|| lines.join("\n"))
}

/// The impls of one open enum.
fn impls(one: &Found, open: bool) -> proc_macro2::TokenStream {
    let Found {
        name,
        variants,
        unknown,
        description,
    } = one;
    let idents: Vec<&syn::Ident> = variants.iter().map(|(ident, _)| ident).collect();
    let wires: Vec<&str> = variants.iter().map(|(_, wire)| wire.as_str()).collect();
    let schema_name = name.to_string();
    let description = match description {
        Some(text) => quote!(::std::option::Option::Some(#text)),
        None => quote!(::std::option::Option::None),
    };
    quote! {
        impl #name {
            /// Every value this version of the crate knows, in the spec's order.
            pub const KNOWN_VALUES: &'static [&'static str] = &[#(#wires),*];

            /// The value as sent on the wire (an unknown value exactly as received).
            pub fn as_str(&self) -> &str {
                match self {
                    #(Self::#idents => #wires,)*
                    Self::#unknown(value) => value.as_str(),
                }
            }

            /// Whether this is a value this version of the crate does not know.
            pub fn is_unknown(&self) -> bool {
                matches!(self, Self::#unknown(_))
            }
        }
        impl ::std::fmt::Display for #name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
        impl ::std::convert::From<&str> for #name {
            fn from(value: &str) -> Self {
                match value {
                    #(#wires => Self::#idents,)*
                    other => Self::#unknown(crate::UnknownValue::new(other)),
                }
            }
        }
        impl ::std::convert::From<::std::string::String> for #name {
            fn from(value: ::std::string::String) -> Self {
                match value.as_str() {
                    #(#wires => Self::#idents,)*
                    _ => Self::#unknown(crate::UnknownValue::new(value)),
                }
            }
        }
        impl ::std::str::FromStr for #name {
            type Err = ::std::convert::Infallible;
            fn from_str(value: &str) -> ::std::result::Result<Self, Self::Err> {
                ::std::result::Result::Ok(Self::from(value))
            }
        }
        impl ::serde::Serialize for #name {
            fn serialize<S: ::serde::Serializer>(
                &self,
                serializer: S,
            ) -> ::std::result::Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }
        impl<'de> ::serde::Deserialize<'de> for #name {
            fn deserialize<D: ::serde::Deserializer<'de>>(
                deserializer: D,
            ) -> ::std::result::Result<Self, D::Error> {
                ::std::result::Result::Ok(match crate::open_enum::deserialize_str(deserializer)? {
                    ::std::borrow::Cow::Borrowed(value) => Self::from(value),
                    ::std::borrow::Cow::Owned(value) => Self::from(value),
                })
            }
        }
        impl schemars::JsonSchema for #name {
            fn schema_name() -> ::std::string::String {
                #schema_name.to_owned()
            }
            fn json_schema(
                _: &mut schemars::r#gen::SchemaGenerator,
            ) -> schemars::schema::Schema {
                crate::open_enum::string_set_schema(Self::KNOWN_VALUES, #open, #description)
            }
        }
    }
}

/// Adds `#[non_exhaustive]` to every struct with named fields in the `types` module of `file`:
/// every object schema of the spec, request or response. An API version may add an optional
/// field to any of them; with the attribute, partner code cannot have depended on the field
/// list (no struct literals, no exhaustive destructuring), so that addition is not a breaking
/// change. Partners build such values with the builders of `types::builder` (or serde) and read
/// their fields as before. Newtype (tuple) structs wrap one value and never grow; the builders
/// live in the nested `types::builder` module and are left alone.
pub fn mark_non_exhaustive(file: &mut syn::File) {
    for item in &mut file.items {
        if let syn::Item::Mod(module) = item
            && module.ident == "types"
            && let Some((_, items)) = module.content.as_mut()
        {
            for item in items {
                if let syn::Item::Struct(item) = item
                    && matches!(item.fields, syn::Fields::Named(_))
                    && !is_non_exhaustive(&item.attrs)
                {
                    item.attrs.push(syn::parse_quote!(#[non_exhaustive]));
                }
            }
        }
    }
}

fn is_non_exhaustive(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|a| a.path().is_ident("non_exhaustive"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(yaml: &str) -> OpenAPI {
        serde_yaml::from_str(yaml).unwrap()
    }

    const SPEC: &str = r##"
openapi: 3.0.3
info: {title: t, version: "1"}
paths: {}
components:
  schemas:
    Mode:
      type: string
      enum: [fast, slow]
    Colour:
      type: string
      x-extensible-enum: [red, green]
    Thing:
      type: object
      properties:
        state:
          type: string
          description: Where it is.
          maxLength: 10
          x-extensible-enum: [on, off]
        mode:
          type: string
          x-extensible-enum: [fast, slow]
        nested:
          type: object
          properties:
            kinds:
              type: array
              items:
                type: string
                x-extensible-enum: [a, b]
        plain:
          type: string
    Other:
      type: object
      properties:
        state:
          type: string
          x-extensible-enum: [up, down]
        mode:
          type: string
          description: described differently
          x-extensible-enum: [x, y]
    Same1:
      type: object
      properties:
        kind:
          type: string
          x-extensible-enum: [x, y]
    Same2:
      type: object
      properties:
        kind:
          type: string
          x-extensible-enum: [x, y]
"##;

    #[test]
    fn extensible_inline_strings_become_named_or_reused_enums() {
        let mut spec = parse(SPEC);
        let open = name_extensible_enums(&mut spec).unwrap();
        assert_eq!(
            open.into_iter().collect::<Vec<_>>(),
            [
                "Colour",
                "Kind",
                "OtherMode",
                "OtherState",
                "ThingNestedKindsItem",
                "ThingState"
            ]
        );
        let value = serde_json::to_value(&spec).unwrap();
        let schemas = &value["components"]["schemas"];
        assert_eq!(
            schemas["Colour"]["enum"],
            serde_json::json!(["red", "green"])
        );
        assert!(schemas["Colour"].get(EXTENSIBLE).is_none());
        let thing = &schemas["Thing"]["properties"];
        assert_eq!(thing["state"]["$ref"], "#/components/schemas/ThingState");
        // The same values as a closed component: the existing type is reused.
        assert_eq!(thing["mode"]["$ref"], "#/components/schemas/Mode");
        assert_eq!(
            thing["nested"]["properties"]["kinds"]["items"]["$ref"],
            "#/components/schemas/ThingNestedKindsItem"
        );
        assert_eq!(thing["plain"]["type"], "string");
        assert_eq!(
            schemas["ThingState"]["enum"],
            serde_json::json!(["on", "off"])
        );
        assert_eq!(schemas["ThingState"]["description"], "Where it is.");
        // Identical sets of a same-named property share a type named after it.
        assert_eq!(
            schemas["Same1"]["properties"]["kind"]["$ref"],
            "#/components/schemas/Kind"
        );
        assert_eq!(
            schemas["Same2"]["properties"]["kind"]["$ref"],
            "#/components/schemas/Kind"
        );
        assert!(schemas.get("Same1Kind").is_none());
        // A different set under the same property name keeps its own name.
        assert_eq!(
            schemas["OtherState"]["enum"],
            serde_json::json!(["up", "down"])
        );
        // The same values with another description or property name stay apart.
        assert_eq!(schemas["OtherMode"]["enum"], serde_json::json!(["x", "y"]));
    }

    #[test]
    fn a_name_clash_and_a_malformed_extension_are_errors() {
        let clash = SPEC.replace(
            "    Colour:",
            "    ThingState:\n      type: integer\n    Colour:",
        );
        let error = name_extensible_enums(&mut parse(&clash)).unwrap_err();
        assert!(error.to_string().contains("ThingState"), "{error}");
        let malformed = SPEC.replace("x-extensible-enum: [red, green]", "x-extensible-enum: red");
        let error = name_extensible_enums(&mut parse(&malformed)).unwrap_err();
        assert!(error.to_string().contains("list of strings"), "{error}");
    }

    #[test]
    fn generated_enums_get_the_unknown_variant_and_lenient_impls() {
        let mut file: syn::File = syn::parse_quote! {
            pub mod types {
                #[derive(::serde::Deserialize, ::serde::Serialize, Clone, Copy, Debug, schemars::JsonSchema)]
                pub enum Mode {
                    #[serde(rename = "fast")]
                    Fast,
                    Slow,
                }
                impl ::std::fmt::Display for Mode {
                    fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result { todo!() }
                }
                impl ::std::convert::TryFrom<&str> for Mode {
                    type Error = ();
                    fn try_from(value: &str) -> Result<Self, ()> { todo!() }
                }
                impl ::std::default::Default for Mode {
                    fn default() -> Self { Mode::Fast }
                }
                #[derive(::serde::Deserialize)]
                pub enum Shape { Circle { r: f64 } }
            }
        };
        OpenEnums {
            open: BTreeSet::new(),
        }
        .apply(&mut file)
        .unwrap();
        let text = prettyplease::unparse(&file);
        assert!(text.contains("Unknown(crate::UnknownValue)"), "{text}");
        assert!(text.contains("#[non_exhaustive]"), "{text}");
        assert!(!text.contains("Copy"), "{text}");
        assert!(!text.contains("TryFrom"), "{text}");
        assert!(!text.contains("todo!"), "{text}");
        assert!(text.contains("Self::Slow => \"Slow\""), "{text}");
        assert!(text.contains("\"fast\" => Self::Fast"), "{text}");
        assert!(
            text.contains("impl ::std::default::Default for Mode"),
            "{text}"
        );
        // A data-carrying enum is not a value set and stays as it was.
        assert!(
            !text.contains("impl ::std::fmt::Display for Shape"),
            "{text}"
        );
    }

    #[test]
    fn every_generated_struct_with_named_fields_is_non_exhaustive() {
        let mut file: syn::File = syn::parse_quote! {
            pub mod types {
                pub struct CreateUserRequest { pub a: u8 }
                pub struct Document { pub a: u8 }
                #[non_exhaustive]
                pub struct AlreadyMarked { pub a: u8 }
                pub struct ExternalReferenceList(pub Vec<u8>);
                pub mod builder {
                    pub struct Document { a: Result<u8, String> }
                }
            }
            pub struct Client { baseurl: String }
        };
        mark_non_exhaustive(&mut file);
        let text = prettyplease::unparse(&file);
        // Request and response types alike; once each.
        assert_eq!(text.matches("#[non_exhaustive]").count(), 3, "{text}");
        for name in ["CreateUserRequest", "Document", "AlreadyMarked"] {
            assert!(
                text.contains(&format!("#[non_exhaustive]\n    pub struct {name} ")),
                "{name}: {text}"
            );
        }
        // Newtypes, builders and the client are not touched.
        assert!(!text.contains("#[non_exhaustive]\n    pub struct ExternalReferenceList"));
        assert!(!text.contains("#[non_exhaustive]\n        pub struct Document"));
        assert!(!text.contains("#[non_exhaustive]\npub struct Client"));
    }

    #[test]
    fn the_generated_client_marks_every_object_schema_of_the_spec() {
        let root = crate::codegen::workspace_root();
        let text = std::fs::read_to_string(root.join(crate::codegen::SPEC_PATH)).unwrap();
        let mut spec = crate::codegen::parse_spec(&text).unwrap();
        let generated = crate::codegen::generate_client(&spec, "test").unwrap();
        let file = syn::parse_file(&generated).unwrap();
        let mut marked = BTreeSet::new();
        let mut unmarked = BTreeSet::new();
        for item in &file.items {
            if let syn::Item::Mod(module) = item
                && module.ident == "types"
                && let Some((_, items)) = &module.content
            {
                for item in items {
                    if let syn::Item::Struct(item) = item
                        && matches!(item.fields, syn::Fields::Named(_))
                    {
                        let set = if is_non_exhaustive(&item.attrs) {
                            &mut marked
                        } else {
                            &mut unmarked
                        };
                        set.insert(item.ident.to_string());
                    }
                }
            }
        }
        assert!(unmarked.is_empty(), "{unmarked:?}");
        // Every object component of the spec (after the open enum rewrite) is a marked struct:
        // requests and responses alike.
        name_extensible_enums(&mut spec).unwrap();
        let objects: Vec<&String> = spec
            .components
            .iter()
            .flat_map(|c| &c.schemas)
            .filter(|(_, schema)| {
                matches!(
                    schema,
                    ReferenceOr::Item(Schema {
                        schema_kind: SchemaKind::Type(Type::Object(object)),
                        ..
                    }) if !object.properties.is_empty()
                )
            })
            .map(|(name, _)| name)
            .collect();
        assert!(!objects.is_empty());
        for name in objects {
            assert!(marked.contains(name), "{name}: {marked:?}");
        }
        for name in [
            "CreateUserRequest",
            "CreateUserResponse",
            "Document",
            "ErrorResponse",
        ] {
            assert!(marked.contains(name), "{name}: {marked:?}");
        }
    }
}
