//! The annotated function, parsed only as far as the attribute needs: attributes, visibility
//! and signature are syntax trees, the body stays tokens. Validation needs no more; the
//! expansion parses the body's statements only to run them inline (`attempt.rs`), and pastes
//! the tokens back unchanged where it falls back to an `async` block.

use proc_macro2::{Span, TokenStream};
use syn::buffer::Cursor;
use syn::parse::{Parse, ParseStream};
use syn::{braced, Attribute, Signature, Visibility};

pub(crate) struct Function {
    /// Attributes, visibility and signature as written: re-emitted as the tokens that came
    /// (in a proc macro, handles to rustc's), not printed back from the syntax tree.
    pub(crate) head: TokenStream,
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
        let head_start = input.cursor();
        input.call(Attribute::parse_outer)?;
        input.parse::<Visibility>()?;
        let sig = input.parse()?;
        let head = tokens_between(head_start, input.cursor());
        let content;
        let brace = braced!(content in input);
        let inner_attrs = content.call(Attribute::parse_inner)?;
        let body = content.parse()?;
        Ok(Self {
            head,
            sig,
            inner_attrs,
            body,
            body_span: brace.span.join(),
        })
    }
}

/// The tokens from `start` up to `end`, as they came.
fn tokens_between(start: Cursor<'_>, end: Cursor<'_>) -> TokenStream {
    let mut tokens = TokenStream::new();
    let mut cursor = start;
    while cursor != end {
        let Some((tree, next)) = cursor.token_tree() else {
            break;
        };
        tokens.extend([tree]);
        cursor = next;
    }
    tokens
}
