//! Builders that allocate only on failure.
//!
//! progenitor's type builders keep each field as `Result<T, String>` and start every required
//! field as `Err("no value supplied for …".to_string())`, so each `builder()` call allocates one
//! error text per required field, which is then dropped when the field is set: the normal case
//! pays for the error case. Builders are the way partners (and the CLI, per row) construct the
//! `#[non_exhaustive]` generated types, so this rewrite makes their error type a
//! `Cow<'static, str>`: the "no value supplied" texts are borrowed literals, only a failed
//! conversion formats (and allocates) its message, and `ConversionError` takes the `Cow` as it
//! is. The builders' public API (setters, `TryFrom`, `From`) is unchanged.

use anyhow::{Result, bail};
use syn::visit_mut::VisitMut;

/// Rewrites the builders of `types::builder` and adds the `ConversionError` conversion they
/// need to `types::error`.
pub fn borrow_builder_errors(file: &mut syn::File) -> Result<()> {
    let mut rewrite = Rewrite {
        in_types: false,
        in_builder: false,
        types_rewritten: 0,
        error_module_found: false,
    };
    rewrite.visit_file_mut(file);
    if rewrite.types_rewritten == 0 {
        bail!(
            "no builder field of type Result<_, String> found: progenitor's builder layout changed"
        );
    }
    if !rewrite.error_module_found {
        bail!("no `error` module with ConversionError found: progenitor's layout changed");
    }
    Ok(())
}

struct Rewrite {
    /// Inside `mod types` (the operation builders of the client are another `mod builder`).
    in_types: bool,
    in_builder: bool,
    types_rewritten: usize,
    error_module_found: bool,
}

/// `Result<T, ::std::string::String>` → its `String` argument, if it has that shape.
fn string_error_arg(path: &mut syn::TypePath) -> Option<&mut syn::Type> {
    let last = path.path.segments.last_mut()?;
    if last.ident != "Result" {
        return None;
    }
    let syn::PathArguments::AngleBracketed(args) = &mut last.arguments else {
        return None;
    };
    if args.args.len() != 2 {
        return None;
    }
    let syn::GenericArgument::Type(error) = &mut args.args[1] else {
        return None;
    };
    match error {
        syn::Type::Path(p) if p.path.segments.last().is_some_and(|s| s.ident == "String") => {
            Some(error)
        }
        _ => None,
    }
}

impl VisitMut for Rewrite {
    fn visit_item_mod_mut(&mut self, node: &mut syn::ItemMod) {
        if node.ident == "error"
            && let Some((_, items)) = &mut node.content
            && items
                .iter()
                .any(|item| matches!(item, syn::Item::Struct(s) if s.ident == "ConversionError"))
        {
            self.error_module_found = true;
            items.push(syn::parse_quote! {
                impl From<::std::borrow::Cow<'static, str>> for ConversionError {
                    fn from(value: ::std::borrow::Cow<'static, str>) -> Self {
                        Self(value)
                    }
                }
            });
        }
        let (outer_types, outer_builder) = (self.in_types, self.in_builder);
        self.in_types = outer_types || node.ident == "types";
        self.in_builder = outer_builder || (outer_types && node.ident == "builder");
        syn::visit_mut::visit_item_mod_mut(self, node);
        (self.in_types, self.in_builder) = (outer_types, outer_builder);
    }

    fn visit_field_mut(&mut self, node: &mut syn::Field) {
        if self.in_builder
            && let syn::Type::Path(path) = &mut node.ty
            && let Some(error) = string_error_arg(path)
        {
            *error = syn::parse_quote!(::std::borrow::Cow<'static, str>);
            self.types_rewritten += 1;
        }
        syn::visit_mut::visit_field_mut(self, node);
    }

    fn visit_expr_mut(&mut self, node: &mut syn::Expr) {
        if self.in_builder {
            match node {
                // `"no value supplied for x".to_string()` → a borrowed literal.
                syn::Expr::MethodCall(call)
                    if call.method == "to_string"
                        && call.args.is_empty()
                        && matches!(
                            &*call.receiver,
                            syn::Expr::Lit(syn::ExprLit {
                                lit: syn::Lit::Str(_),
                                ..
                            })
                        ) =>
                {
                    let literal = &call.receiver;
                    *node = syn::parse_quote!(::std::borrow::Cow::Borrowed(#literal));
                    return;
                }
                // `.map_err(|e| format!(…))` → the formatted text, owned.
                syn::Expr::MethodCall(call) if call.method == "map_err" && call.args.len() == 1 => {
                    if let syn::Expr::Closure(closure) = &mut call.args[0]
                        && matches!(&*closure.body, syn::Expr::Macro(m)
                            if m.mac.path.is_ident("format"))
                    {
                        let body = std::mem::replace(
                            &mut *closure.body,
                            syn::Expr::Verbatim(proc_macro2::TokenStream::new()),
                        );
                        *closure.body = syn::parse_quote!(::std::borrow::Cow::Owned(#body));
                    }
                }
                _ => {}
            }
        }
        syn::visit_mut::visit_expr_mut(self, node);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn required_fields_start_as_borrowed_texts_and_conversion_failures_format() {
        let mut file: syn::File = syn::parse_quote! {
            pub mod types {
                pub mod error {
                    pub struct ConversionError(::std::borrow::Cow<'static, str>);
                }
                pub mod builder {
                    pub struct Thing {
                        name: ::std::result::Result<::std::string::String, ::std::string::String>,
                    }
                    impl ::std::default::Default for Thing {
                        fn default() -> Self {
                            Self { name: Err("no value supplied for name".to_string()) }
                        }
                    }
                    impl Thing {
                        pub fn name<T>(mut self, value: T) -> Self
                        where
                            T: ::std::convert::TryInto<::std::string::String>,
                            T::Error: ::std::fmt::Display,
                        {
                            self.name = value
                                .try_into()
                                .map_err(|e| format!("error converting supplied value for name: {e}"));
                            self
                        }
                    }
                }
            }
        };
        borrow_builder_errors(&mut file).unwrap();
        // Compared without whitespace: prettyplease decides the line breaks.
        let text: String = prettyplease::unparse(&file)
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        for expected in [
            "name:::std::result::Result<::std::string::String,::std::borrow::Cow<'static,str>",
            "Err(::std::borrow::Cow::Borrowed(\"novaluesuppliedforname\"))",
            "map_err(|e|::std::borrow::Cow::Owned(format!(",
            "implFrom<::std::borrow::Cow<'static,str>>forConversionError",
        ] {
            assert!(text.contains(expected), "{expected} not in {text}");
        }
        assert!(!text.contains(".to_string()"), "{text}");
    }

    #[test]
    fn a_layout_without_builders_is_an_error_not_a_silent_no_op() {
        let mut file: syn::File = syn::parse_quote! {
            pub mod types { pub mod error { pub struct ConversionError(String); } }
        };
        assert!(borrow_builder_errors(&mut file).is_err());
    }
}
