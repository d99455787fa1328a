//! The annotated function, parsed only as far as the attribute needs: attributes, visibility
//! and signature are syntax trees, the body stays tokens. Validation needs no more; the
//! expansion parses the body's statements only to run them inline (`attempt.rs`), and pastes
//! the tokens back unchanged where it falls back to an `async` block.

use proc_macro2::{Span, TokenStream};
use syn::parse::{Parse, ParseStream};
use syn::{braced, Attribute, Signature, Visibility};

pub(crate) struct Function {
    pub(crate) outer_attrs: Vec<Attribute>,
    pub(crate) vis: Visibility,
    pub(crate) sig: Signature,
    /// `#![...]` at the top of the body: they go back to the top of the method's body.
    pub(crate) inner_attrs: Vec<Attribute>,
    /// The body's statements, as written.
    pub(crate) body: TokenStream,
    /// The span of the body's braces.
    pub(crate) body_span: Span,
}

impl Parse for Function {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let outer_attrs = input.call(Attribute::parse_outer)?;
        let vis = input.parse()?;
        let sig = input.parse()?;
        let content;
        let brace = braced!(content in input);
        let inner_attrs = content.call(Attribute::parse_inner)?;
        let body = content.parse()?;
        Ok(Self {
            outer_attrs,
            vis,
            sig,
            inner_attrs,
            body,
            body_span: brace.span.join(),
        })
    }
}
